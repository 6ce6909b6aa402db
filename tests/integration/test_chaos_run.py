"""A whole chaos run on the local backend, from the command line to the report: the verdict, the
contract fields of summary.json, the run folder, and faults rolled back afterwards."""

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chaos.backends import backend_for
from chaos.runner import ChaosRun
from chaos.scenario import load_scenario
from stack.local import LocalStack
from tests.integration.own_stack import own_stack

pytestmark = pytest.mark.integration
SCENARIOS = Path(__file__).parent / "scenarios"
CONTRACT = {
    "scenario", "backend", "resilience", "verdict", "fault_applied", "hypotheses", "phases",
    "oracles", "breakers", "time_to_detect_s", "time_to_recover_s",
}  # fmt: skip


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with own_stack(tmp_path_factory.mktemp("chaos-run")) as local:
        yield local


def test_a_short_kill_scenario_passes_and_writes_its_report(
    stack: LocalStack, tmp_path: Path
) -> None:
    scenario = load_scenario(SCENARIOS / "short-kill.yaml")
    backend = backend_for("local", stack=stack, journal_dir=tmp_path / "journal")
    try:
        result = ChaosRun(scenario, backend, "on", tmp_path / "run").run()
    finally:
        backend.close()
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert set(summary) == CONTRACT
    assert summary["verdict"] == "pass", summary["hypotheses"]
    assert summary["fault_applied"] is True
    assert summary["phases"]["fault"]["requests"] > 0
    assert any(b["dependency"] == "timeline-1" for b in summary["breakers"])
    assert result.summary.verdict == "pass"
    for name in ("report.html", "history.jsonl", "locust_stats.csv", "requests.csv"):
        assert (tmp_path / "run" / name).exists(), name
    # The killed replica was started again.
    httpx.get(stack.layout.url("timeline-1") + "/readyz", timeout=5).raise_for_status()


def test_a_fault_that_cannot_take_effect_makes_the_run_invalid(
    stack: LocalStack, tmp_path: Path
) -> None:
    scenario = load_scenario(SCENARIOS / "short-kill.yaml")
    stack.send_signal("timeline-1", signal.SIGKILL)  # already dead: the kill shows nothing
    backend = backend_for("local", stack=stack, journal_dir=tmp_path / "journal")
    try:
        result = ChaosRun(scenario, backend, "on", tmp_path / "run").run()
    finally:
        backend.close()
        stack.restart("timeline-1")
    assert result.summary.verdict == "invalid"
    assert result.summary.fault_applied is False


def test_the_cli_refuses_a_fault_the_backend_cannot_do_with_exit_2(
    stack: LocalStack, tmp_path: Path
) -> None:
    scenario = tmp_path / "lossy.yaml"
    scenario.write_text(
        (SCENARIOS / "short-kill.yaml")
        .read_text()
        .replace("{fault: kill, target: timeline-1", "{fault: loss, percent: 10, target: posts")
    )
    answer = subprocess.run(
        [sys.executable, "-m", "failwhale.cli", "chaos", "run", str(scenario),
         "--backend", "local", "--workdir", str(stack.workdir), "--out", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert answer.returncode == 2, answer.stderr
    assert "loss" in answer.stderr


def test_the_cli_names_the_line_of_a_wrong_field_with_exit_2(tmp_path: Path) -> None:
    scenario = tmp_path / "typo.yaml"
    scenario.write_text(
        (SCENARIOS / "short-kill.yaml").read_text().replace("duration_s: 24", "duraton_s: 24")
    )
    answer = subprocess.run(
        [sys.executable, "-m", "failwhale.cli", "chaos", "run", str(scenario),
         "--backend", "local"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert answer.returncode == 2
    assert f"{scenario}:5: load.duraton_s: unknown field" in answer.stderr


@pytest.mark.parametrize("command", ["run", "compare"])
def test_a_run_or_compare_without_a_stack_is_a_setup_error_not_a_traceback(
    command: str, tmp_path: Path
) -> None:
    ran = subprocess.run(
        [str(Path(sys.executable).parent / "failwhale"), "chaos", command, "trends-outage",
         "--backend", "docker", "--out", str(tmp_path / "out")],
        env={**os.environ, "COMPOSE_PROJECT_NAME": "failwhale-no-such-project"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert ran.returncode == 2, ran.stderr
    assert "Traceback" not in ran.stderr
    assert "failwhale-no-such-project" in ran.stderr
