"""The master's side of a distributed run: the latest report of each worker that takes part in
the current run, the workers' final audits as they come in, and, once the run has stopped, which
worker's audit is still awaited and which is missing.

A report belongs to a run by the run's id (the master hands it to its workers with the run's
options), not by timestamps: the workers of a swarm may live on nodes whose clocks differ. A
worker that sends no report for `GONE_AFTER_S` (it reports every 3 s, auditing or not) is gone:
its audit is missing, and the master does not wait for it.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from loadtest import schedule
from loadtest.scoreboard import merge

GONE_AFTER_S = 15.0
FINISHED = ("done", "failed")


@dataclass
class WorkerReport:
    name: str
    snapshot: dict[str, Any]
    received: float  # the master's monotonic clock

    @property
    def audit_state(self) -> str:
        return str(self.snapshot.get("audit_state", "not run"))

    def entry(self) -> dict[str, Any]:
        """What the summary and the Resilience tab show of this worker."""
        oracles: dict[str, Any] = self.snapshot.get("oracles", {})
        writes: dict[str, int] = oracles.get("writes", {})
        audit: dict[str, Any] = oracles.get("audit", {})
        return {
            "name": self.name,
            "audit_state": self.audit_state,
            "answers": sum(self.snapshot.get("answers", {}).values()),
            "writes_ok": int(writes.get("ok", 0)),
            "read_back": int(audit.get("read_back", 0)),
            "unverified": int(audit.get("unverified", 0)),
            "violations": int(oracles.get("violations", 0)),
        }


class WorkerAudits:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.run_id = ""
        self.reports: dict[str, WorkerReport] = {}  # by Locust's client id
        self.stopped_at: float | None = None
        self.wait_s = 0.0

    def start(self, run_id: str) -> None:
        self.run_id = run_id
        self.reports.clear()
        self.stopped_at = None

    def record(self, client_id: str, snapshot: dict[str, Any]) -> bool:
        """Keeps a worker's report if it belongs to the current run."""
        if not self.run_id or snapshot.get("run") != self.run_id:
            return False
        name = str(snapshot.get("worker") or client_id)
        self.reports[client_id] = WorkerReport(name, snapshot, self.clock())
        return True

    def stop(self, wait_s: float) -> None:
        """The run has stopped: each worker's audit is awaited for up to `wait_s`."""
        self.stopped_at = self.clock()
        self.wait_s = wait_s

    def awaited(self) -> list[str]:
        """Workers whose audit may still come: unfinished, heard from lately, in time."""
        if self.stopped_at is None:
            return []
        now = self.clock()
        if now >= self.stopped_at + self.wait_s:
            return []
        return sorted(
            r.name
            for r in self.reports.values()
            if r.audit_state not in FINISHED and now - r.received < GONE_AFTER_S
        )

    def missing(self) -> list[str]:
        """After the stop, workers whose audit is not in (awaited or given up on)."""
        if self.stopped_at is None:
            return []
        return sorted(r.name for r in self.reports.values() if r.audit_state not in FINISHED)

    def state(self, merged: str) -> str:
        if self.stopped_at is None or not self.reports:
            return merged
        if self.awaited():
            return "running"
        return "incomplete" if self.missing() else merged

    def wait(self, sleep: Callable[[float], Any], pause_s: float = 0.5) -> None:
        """Returns once no worker's audit is awaited any more (`sleep` lets reports in)."""
        while self.awaited():
            sleep(pause_s)

    def snapshot(self) -> dict[str, Any]:
        """The workers' snapshots added up, with one entry per worker and the missing audits."""
        reports = sorted(self.reports.values(), key=lambda r: r.name)
        total = merge(r.snapshot for r in reports)
        total["audit_state"] = self.state(str(total["audit_state"]))
        total["generator"] = schedule.merge(r.snapshot.get("generator") for r in reports)
        total["workers"] = [r.entry() for r in reports]
        total["audit_missing"] = self.missing() if total["audit_state"] == "incomplete" else []
        return total
