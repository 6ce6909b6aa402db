"""Locust with several workers against the real local stack: a real master and real worker
processes. A headless run on one worker or three ends with every worker's final audit in the
master's summary (each worker's counts and the merged figures); a worker lost in the middle of a
run is named as the one whose audit is missing, and the run fails; from the web UI, the
Resilience tab adds up the workers' counts and shows each worker's audit."""

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from stack.layout import LocalLayout
from tests.integration.loadgen import ROOT, free_port, locust, web_ui, worker_processes

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

SPAWNED = "All users spawned"
REPORT_INTERVAL_S = 3.0  # Locust's worker reports


def wait_for(what: str, check: Callable[[], Any], seconds: float = 180) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {seconds} s")


def run_headless_on_workers(
    host: str, out: Path, workers: int, users: int, seconds: int, lose_one: bool = False
) -> tuple[int, str, dict[str, Any]]:
    """A headless master and `workers` workers; with `lose_one`, the first worker is killed
    (SIGKILL) once the users are spawned. Returns the master's exit code, output and report."""
    port, report, log = free_port(), out / "report.json", out / "locust-master.log"
    master = locust(
        host, "--headless", "--master", "--master-bind-host", "127.0.0.1",
        "--master-bind-port", str(port), "--expect-workers", str(workers),
        "--users", str(users), "--spawn-rate", str(users), "--run-time", f"{seconds}s",
        "--only-summary", "--think-time", "0.5", "--audit-timeout", "30",
        "--oracle-report", str(report),
    )  # fmt: skip
    with worker_processes(host, port, out, workers) as started, log.open("w") as output:
        process = subprocess.Popen(
            master, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            if lose_one:
                wait_for("the users spawned", lambda: SPAWNED in log.read_text())
                time.sleep(REPORT_INTERVAL_S + 1)  # the worker has reported on this run
                os.killpg(started[0].pid, signal.SIGKILL)
            code = process.wait(timeout=seconds + 300)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    data: dict[str, Any] = json.loads(report.read_text()) if report.exists() else {}
    return code, log.read_text(), data


def assert_workers_add_up(report: dict[str, Any], workers: int) -> list[dict[str, Any]]:
    shares: list[dict[str, Any]] = report["workers"]
    assert len(shares) == workers, shares
    assert len({w["name"] for w in shares}) == workers
    oracles = report["oracles"]
    assert sum(w["writes_ok"] for w in shares) == oracles["writes"]["ok"]
    assert sum(w["read_back"] for w in shares) == oracles["audit"]["read_back"]
    assert sum(w["answers"] for w in shares) == sum(report["answers"].values())
    assert sum(w["violations"] for w in shares) == oracles["violations"]
    return shares


@pytest.mark.parametrize("workers", [1, 3])
def test_a_headless_run_on_workers_reports_every_workers_final_audit(
    layout: LocalLayout, tmp_path: Path, workers: int
) -> None:
    code, output, report = run_headless_on_workers(
        layout.gateway_url, tmp_path, workers, 3 * workers, 20
    )
    assert report, output[-3000:]
    assert report["audit_state"] == "done", output[-3000:]
    assert report["audit_missing"] == []
    shares = assert_workers_add_up(report, workers)
    assert [w["audit_state"] for w in shares] == ["done"] * workers
    oracles = report["oracles"]
    assert oracles["writes"]["ok"] > 0
    # every acknowledged write of every worker was read back
    assert oracles["audit"]["read_back"] + oracles["audit"]["unverified"] == oracles["writes"]["ok"]
    assert f"final audit from {workers} of {workers}" in output
    assert oracles["violations"] == 0, oracles["examples"]
    assert code == (1 if report["locust"]["failures"] else 0), output[-3000:]


def test_a_worker_lost_mid_run_is_named_as_missing_its_audit_and_fails_the_run(
    layout: LocalLayout, tmp_path: Path
) -> None:
    code, output, report = run_headless_on_workers(
        layout.gateway_url, tmp_path, 3, 9, 20, lose_one=True
    )
    assert report, output[-3000:]
    assert report["audit_state"] == "incomplete", output[-3000:]
    shares = assert_workers_add_up(report, 3)
    missing = [w["name"] for w in shares if w["audit_state"] != "done"]
    assert len(missing) == 1, shares
    assert report["audit_missing"] == missing
    assert f"NO FINAL AUDIT from {missing[0]}" in output
    assert "final audit from 2 of 3" in output
    assert code == 1


def test_the_resilience_tab_adds_up_the_workers_and_shows_each_workers_audit(
    layout: LocalLayout, tmp_path: Path
) -> None:
    with web_ui(layout.gateway_url, tmp_path, workers=2) as url:
        ui = httpx.Client(base_url=url, timeout=30)
        form = {"user_count": 6, "spawn_rate": 6, "host": layout.gateway_url}
        assert ui.post("/swarm", data=form).json()["success"]

        def resilience() -> dict[str, Any]:
            data: dict[str, Any] = ui.get("/resilience").json()
            return data

        def both_working() -> dict[str, Any] | None:
            data = resilience()
            shares = data["snapshot"]["workers"]
            return data if len(shares) == 2 and all(w["answers"] > 10 for w in shares) else None

        running = wait_for("both workers answering", both_working)
        snapshot = running["snapshot"]
        assert_workers_add_up(snapshot, 2)
        rows = {(r["what"], r["item"]): r for r in running["rows"]}
        total = int(rows[("degraded", "all answers")]["detail"].split(" of ")[1].split(";")[0])
        assert total == sum(w["answers"] for w in snapshot["workers"])
        for share in snapshot["workers"]:
            assert rows[("worker", share["name"])]["value"] == "not run"
        assert rows[("breaker", "posts")]["value"] == "closed"  # the gateway's, once

        assert ui.post("/stop").json()["success"]
        final = wait_for(
            "the workers' audits",
            lambda: (r := resilience())["snapshot"]["audit_state"] == "done" and r,
        )
        snapshot = final["snapshot"]
        shares = assert_workers_add_up(snapshot, 2)
        assert [w["audit_state"] for w in shares] == ["done", "done"]
        assert snapshot["oracles"]["audit"]["read_back"] == snapshot["oracles"]["writes"]["ok"]
        rows = {(r["what"], r["item"]): r for r in final["rows"]}
        for share in shares:
            row = rows[("worker", share["name"])]
            assert row["value"] == "done"
            assert f"{share['read_back']} read back" in row["detail"]
        ui.close()
