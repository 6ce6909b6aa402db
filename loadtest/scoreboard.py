"""What the Resilience tab and the run summary show beside Locust's own statistics: answers per
endpoint, how many of them were degraded (`X-Degraded`, counted apart from failures) and for
which reasons, dropped open-loop arrivals, and the oracles' report. Snapshots are plain dicts:
workers send theirs to the master, which adds them up."""

import time
from collections import Counter, deque
from collections.abc import Iterable
from typing import Any

from loadtest.oracles import OracleReport, combine, report_from_dict

RECENT_WINDOW_S = 10.0


class Scoreboard:
    def __init__(self, started: float | None = None) -> None:
        self.started = time.time() if started is None else started
        self.answers: Counter[str] = Counter()
        self.degraded: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()
        self.dropped_arrivals = 0
        self.oracles = OracleReport()
        self.audit_state = "not run"  # then "running", "done"

    def answered(self, endpoint: str, degraded: list[str]) -> None:
        self.answers[endpoint] += 1
        if degraded:
            self.degraded[endpoint] += 1
            self.reasons.update(degraded)

    def snapshot(self) -> dict[str, Any]:
        return {
            "started": self.started,
            "answers": dict(self.answers),
            "degraded": dict(self.degraded),
            "reasons": dict(self.reasons),
            "dropped_arrivals": self.dropped_arrivals,
            "oracles": self.oracles.to_dict(),
            "audit_state": self.audit_state,
        }


def merge(snapshots: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """One snapshot for several workers."""
    answers: Counter[str] = Counter()
    degraded: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    dropped = 0
    reports: list[OracleReport] = []
    states: set[str] = set()
    started = time.time()
    for snap in snapshots:
        started = min(started, float(snap["started"]))
        answers.update(snap["answers"])
        degraded.update(snap["degraded"])
        reasons.update(snap["reasons"])
        dropped += int(snap["dropped_arrivals"])
        reports.append(report_from_dict(snap["oracles"]))
        states.add(str(snap["audit_state"]))
    if "running" in states or "failed" in states:
        state = "running" if "running" in states else "failed"
    else:
        state = "done" if states == {"done"} else "not run"
    oracles = combine(reports) if reports else OracleReport()
    return {
        "started": started,
        "answers": dict(answers),
        "degraded": dict(degraded),
        "reasons": dict(reasons),
        "dropped_arrivals": dropped,
        "oracles": oracles.to_dict(),
        "audit_state": state,
    }


class RecentRate:
    """The degraded share of answers over the last few seconds, from successive snapshots."""

    def __init__(self, window_s: float = RECENT_WINDOW_S) -> None:
        self.window_s = window_s
        self._points: deque[tuple[float, int, int]] = deque()

    def update(self, now: float, answers: int, degraded: int) -> float | None:
        if self._points and answers < self._points[-1][1]:
            self._points.clear()  # a new run started
        self._points.append((now, answers, degraded))
        while len(self._points) > 2 and now - self._points[1][0] >= self.window_s:
            self._points.popleft()
        then, answers_then, degraded_then = self._points[0]
        if now - then <= 0 or answers == answers_then:
            return None
        return (degraded - degraded_then) / (answers - answers_then)
