"""One whole short scenario on the docker backend, from the runner to the report: a timeline
replica container killed under load through the stack's own Locust master, a pass with the
workers' final audit in the oracle counts, the load stopped at the scenario's end, and the
container running again afterwards."""

import json
from pathlib import Path

import docker
import httpx
import pytest

from chaos.backends.docker.driver import DockerBackend
from chaos.runner import ChaosRun
from chaos.scenario import load_scenario
from tests.e2e.conftest import PROJECT

pytestmark = pytest.mark.e2e
SCENARIO = Path(__file__).resolve().parents[2] / "integration" / "scenarios" / "short-kill.yaml"


def test_a_short_kill_scenario_passes_on_the_docker_backend(
    docker_backend: DockerBackend, locust_url: str, tmp_path: Path
) -> None:
    scenario = load_scenario(SCENARIO)
    result = ChaosRun(scenario, docker_backend, "on", tmp_path / "run").run()
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["backend"] == "docker"
    assert summary["verdict"] == "pass", summary["hypotheses"]
    assert summary["fault_applied"] is True
    assert result.obs.faults[0].mechanism
    # the audit's counts, not only the live checks: the workers audited and reported back
    assert summary["oracles"]["lost_writes"] == 0, summary["oracles"]
    assert summary["oracles"]["duplicate_writes"] == 0
    assert (tmp_path / "run" / "locust_stats.csv").read_text().count("\n") > 1
    state = httpx.get(f"{locust_url}/stats/requests", timeout=10).json()["state"]
    assert state == "stopped", "the stack's Locust kept the load running after the scenario"
    client = docker.from_env()
    try:
        replica = client.containers.list(
            filters={
                "label": [
                    f"com.docker.compose.project={PROJECT}",
                    "com.docker.compose.service=timeline-1",
                ]
            }
        )
        assert replica and replica[0].status == "running"
    finally:
        client.close()
