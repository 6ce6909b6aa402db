"""The master's collection of worker reports (loadtest/workers.py), on a clock the test moves:
reports of another run are ignored, the audit is awaited while workers report, a silent worker
is given up and named, and the summary and the tab show each worker's share."""

from typing import Any

from loadtest.scoreboard import Scoreboard
from loadtest.summary import worker_lines
from loadtest.webui import worker_rows
from loadtest.workers import GONE_AFTER_S, WorkerAudits


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def report(run: str, worker: str, state: str, ok: int = 0, answers: int = 0) -> dict[str, Any]:
    board = Scoreboard(started=10.0)
    for _ in range(answers):
        board.answered("GET /v1/timeline", [])
    board.audit_state = state
    board.oracles.writes = {"ok": ok}
    if state == "done":
        board.oracles.audit = {"read_back": ok, "unverified": 0, "outbox_drained": True}
    return board.snapshot() | {"run": run, "worker": worker}


def test_reports_of_another_run_or_of_no_run_are_not_counted() -> None:
    audits = WorkerAudits(Clock())
    assert not audits.record("a", report("r1", "worker 0", "not run"))  # before any run
    audits.start("r2")
    assert not audits.record("a", report("r1", "worker 0", "done"))
    assert audits.record("b", report("r2", "worker 1", "not run", answers=4))
    assert [w["name"] for w in audits.snapshot()["workers"]] == ["worker 1"]


def test_the_audit_is_done_once_every_worker_has_audited() -> None:
    clock = Clock()
    audits = WorkerAudits(clock)
    audits.start("r")
    audits.record("a", report("r", "worker 0", "not run", answers=3))
    audits.record("b", report("r", "worker 1", "not run", answers=5))
    assert audits.snapshot()["audit_state"] == "not run"
    audits.stop(wait_s=60)
    assert audits.snapshot()["audit_state"] == "running"  # nobody has reported since the stop
    clock.now += 3
    audits.record("a", report("r", "worker 0", "done", ok=2, answers=3))
    assert audits.awaited() == ["worker 1"]
    assert audits.snapshot()["audit_state"] == "running"
    audits.record("b", report("r", "worker 1", "done", ok=5, answers=5))
    total = audits.snapshot()
    assert total["audit_state"] == "done"
    assert total["audit_missing"] == []
    assert total["oracles"]["writes"]["ok"] == 7
    assert total["oracles"]["audit"]["read_back"] == 7
    assert sum(total["answers"].values()) == 8
    assert [(w["name"], w["writes_ok"], w["read_back"]) for w in total["workers"]] == [
        ("worker 0", 2, 2),
        ("worker 1", 5, 5),
    ]


def test_a_silent_worker_is_given_up_and_named_as_missing_its_audit() -> None:
    clock = Clock()
    audits = WorkerAudits(clock)
    audits.start("r")
    audits.record("a", report("r", "worker 0", "not run"))
    audits.record("b", report("r", "worker 1", "not run"))
    audits.stop(wait_s=600)
    clock.now += 3
    audits.record("a", report("r", "worker 0", "done", ok=1))
    clock.now += GONE_AFTER_S - 3  # worker 1 has said nothing since before the stop
    assert audits.awaited() == []
    slept: list[float] = []
    audits.wait(slept.append)
    assert slept == []  # nothing left to wait for
    total = audits.snapshot()
    assert total["audit_state"] == "incomplete"
    assert total["audit_missing"] == ["worker 1"]


def test_a_worker_still_auditing_at_the_deadline_is_missing() -> None:
    clock = Clock()
    audits = WorkerAudits(clock)
    audits.start("r")
    audits.stop(wait_s=20)
    audits.record("a", report("r", "worker 0", "running"))
    assert audits.snapshot()["audit_state"] == "running"
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds
        audits.record("a", report("r", "worker 0", "running"))  # reports on, never finishes

    audits.wait(sleep)
    assert sum(slept) >= 20
    assert audits.snapshot()["audit_missing"] == ["worker 0"]


def test_the_summary_and_the_tab_show_each_worker_and_the_missing_audit() -> None:
    clock = Clock()
    audits = WorkerAudits(clock)
    audits.start("r")
    audits.record("a", report("r", "worker 0", "done", ok=3, answers=7))
    audits.record("b", report("r", "worker 1", "not run", answers=2))
    audits.stop(wait_s=0)
    total = audits.snapshot()
    lines = worker_lines(total)
    assert lines[0] == "  workers: 2, final audit from 1 of 2"
    assert "audit done" in lines[1] and "3 writes acknowledged, 3 read back" in lines[1]
    assert "audit MISSING" in lines[2]
    rows = {row["item"]: row for row in worker_rows(total)}
    assert rows["worker 0"]["value"] == "done"
    assert rows["worker 0"]["detail"].startswith("7 answers, 3 writes acknowledged, 3 read back")
    assert rows["worker 1"]["value"] == "NO AUDIT"
    assert worker_lines({"workers": []}) == []  # one process: no worker lines
