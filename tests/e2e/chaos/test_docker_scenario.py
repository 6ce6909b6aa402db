"""One whole short scenario on the docker backend, from the runner to the report: a timeline
replica container killed under load, a pass, and the container running again afterwards."""

import json
from pathlib import Path

import docker
import pytest

from chaos.backends.docker import DockerBackend
from chaos.runner import ChaosRun
from chaos.scenario import load_scenario
from tests.e2e.conftest import PROJECT

pytestmark = pytest.mark.e2e
SCENARIO = Path(__file__).resolve().parents[2] / "integration" / "scenarios" / "short-kill.yaml"


def test_a_short_kill_scenario_passes_on_the_docker_backend(
    docker_backend: DockerBackend, tmp_path: Path
) -> None:
    scenario = load_scenario(SCENARIO)
    result = ChaosRun(scenario, docker_backend, "on", tmp_path / "run").run()
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["backend"] == "docker"
    assert summary["verdict"] == "pass", summary["hypotheses"]
    assert summary["fault_applied"] is True
    assert result.obs.faults[0].mechanism
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
