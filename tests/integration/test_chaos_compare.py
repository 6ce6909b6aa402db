"""`failwhale chaos compare` end to end on the local backend, as a user runs it: the command
line against a stack on its own ports, switched to resilience off and back. The run without
the layer must be a valid demonstration (its kills reach the processes of the stack restarted
in off mode, so it fails with errors during the fault), not `invalid`."""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chaos.backends.local import processes as proc
from stack.layout import free_layout
from stack.local import LocalStack

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SCENARIO = Path(__file__).parent / "scenarios" / "short-timeline-outage.yaml"
CONTRACT = {
    "scenario", "backend", "resilience", "verdict", "fault_applied", "hypotheses", "phases",
    "oracles", "breakers", "time_to_detect_s", "time_to_recover_s",
}  # fmt: skip
FAULT_ERROR_MAX = 0.02  # the scenario's bound on the fault phase's error rate


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    workdir = tmp_path_factory.mktemp("chaos-compare")
    local = LocalStack(workdir, free_layout())
    local.up()
    try:
        yield local
    finally:
        # The command restarted the stack in processes of its own: its state file names them.
        try:
            LocalStack(workdir, local.layout).down()
        finally:
            local.down()


@pytest.fixture(scope="module")
def compared(
    stack: LocalStack, tmp_path_factory: pytest.TempPathFactory
) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path_factory.mktemp("compare-report")
    command = [
        sys.executable, "-m", "failwhale.cli", "chaos", "compare", str(SCENARIO),
        "--backend", "local", "--workdir", str(stack.workdir), "--out", str(out), "--json",
    ]  # fmt: skip
    done = subprocess.run(
        command, cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True, timeout=900
    )
    return done, out


def summary(out: Path, mode: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((out / mode / "summary.json").read_text())
    return loaded


def test_compare_passes_with_resilience_and_fails_without_and_exits_0(
    compared: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    done, out = compared
    assert done.returncode == 0, done.stderr[-3000:]
    comparison = json.loads(done.stdout.strip().splitlines()[-1])
    assert comparison["verdicts"] == {"on": "pass", "off": "fail"}, done.stderr[-3000:]
    assert comparison["backend"] == "local"
    fault_errors = comparison["ratios"]["fault"]["error_rate"]
    assert fault_errors["off"] > FAULT_ERROR_MAX >= fault_errors["on"]
    assert (out / "report.html").exists()


def test_the_run_without_resilience_kills_the_restarted_processes_and_sees_errors(
    compared: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    _, out = compared
    off = summary(out, "off")
    assert set(off) == CONTRACT
    assert off["resilience"] == "off"
    assert off["fault_applied"] is True  # the kills reached the processes running in off mode
    assert off["verdict"] == "fail"
    fault = off["phases"]["fault"]
    assert fault["requests"] > 0
    assert fault["error_rate"] > FAULT_ERROR_MAX
    assert fault["degraded_rate"] == 0  # no fallback without the layer
    assert off["breakers"] == []  # nor any breaker
    assert off["time_to_detect_s"] is None
    by_name = {h["name"]: h for h in off["hypotheses"]}
    assert by_name["fault error_rate"]["passed"] is False, off["hypotheses"]
    details = json.loads((out / "off" / "details.json").read_text())
    assert [f["took_effect"] for f in details["faults"]] == [True, True], details["faults"]


def test_the_run_with_resilience_degrades_instead_of_failing(
    compared: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    _, out = compared
    on = summary(out, "on")
    assert set(on) == CONTRACT
    assert (on["resilience"], on["verdict"], on["fault_applied"]) == ("on", "pass", True)
    fault = on["phases"]["fault"]
    assert fault["error_rate"] <= FAULT_ERROR_MAX
    assert fault["degraded_rate"] >= 0.05
    assert on["time_to_detect_s"] is not None and on["time_to_recover_s"] is not None
    assert {b["dependency"] for b in on["breakers"]} >= {"timeline-1", "timeline-2"}
    assert on["oracles"]["lost_writes"] == 0


def test_compare_puts_the_stack_back_on_its_ports_with_resilience_on(
    stack: LocalStack, compared: tuple[subprocess.CompletedProcess[str], Path]
) -> None:
    status = httpx.get(stack.layout.gateway_url + "/v1/status", timeout=5).json()
    assert status["resilience"] == "on"
    after = LocalStack(stack.workdir, stack.layout)
    for spec in stack.layout.services:
        pid = after.pid(spec.name)
        assert proc.alive(pid), spec.name
        env = proc.environment_of(pid)
        assert env.get("FAILWHALE_RESILIENCE") == "on", spec.name
