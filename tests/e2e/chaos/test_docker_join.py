"""A terminal chaos run while a load started from the web UI is running: `failwhale chaos run`
refuses with the reason (exit 2) and leaves that load running; with `--join` it acts on it, its
report says so, and the load is still running when the run is over."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import PROJECT, stop_load

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

SCENARIO = """
name: join-check
description: A short trends outage, to run against a load someone else started.
load: {users: 4, duration_s: 20, seed: 1}
method:
  - {fault: kill, target: trends, at_s: 5, duration_s: 6}
hypotheses:
  - {metric: error_rate, phase: fault, max: 0.05}
"""


def chaos_run(scenario: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "failwhale.cli", "chaos", "run", str(scenario),
               "--backend", "docker", "--out", str(out), *extra]  # fmt: skip
    env = os.environ | {"COMPOSE_PROJECT_NAME": PROJECT}
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)


def state(ui: httpx.Client) -> str:
    return str(ui.get("/stats/requests").json()["state"])


def test_a_terminal_run_refuses_or_joins_a_load_started_from_the_ui(
    locust_url: str, tmp_path: Path
) -> None:
    scenario = tmp_path / "join-check.yaml"
    scenario.write_text(SCENARIO)
    with httpx.Client(base_url=locust_url, timeout=10) as ui:
        started = ui.post("/swarm", data={"user_count": 4, "spawn_rate": 4, "run_time": "10m"})
        assert started.json()["success"], started.text
        try:
            deadline = time.monotonic() + 60
            while state(ui) != "running" and time.monotonic() < deadline:
                time.sleep(1)
            refused = chaos_run(scenario, tmp_path / "refused")
            assert refused.returncode == 2, refused.stdout + refused.stderr
            assert "--join" in refused.stdout + refused.stderr
            assert state(ui) == "running"  # untouched

            joined = chaos_run(scenario, tmp_path / "joined", "--join")
            assert joined.returncode in (0, 1), joined.stdout + joined.stderr
            details = json.loads((tmp_path / "joined" / "details.json").read_text())
            assert any("joined a load already running" in n for n in details["notes"])
            assert details["faults"][0]["took_effect"]
            assert state(ui) == "running"  # the UI's load goes on
        finally:
            stop_load(locust_url)
