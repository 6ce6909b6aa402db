"""The console's sampler: rates by outcome over the last seconds from cumulative counts (as the
workers' 3 s reports bring them), Locust's oracle and open-loop entries left out of the requests,
breakers and outbox depths from the gateway's status, a new series at a new run, and the
`after` paging the page polls with."""

from dataclasses import dataclass, field
from typing import Any

import pytest

from loadtest.console.series import Counts, Sampler, Series, counts, gateway_state, percentiles


@dataclass
class FakeEntry:
    method: str | None
    num_requests: int = 0
    num_failures: int = 0
    current: dict[float, int] = field(default_factory=dict)

    def get_current_response_time_percentile(self, percent: float) -> int | None:
        return self.current.get(percent)


@dataclass
class FakeStats:
    total: FakeEntry
    entries: dict[tuple[str, str], Any] = field(default_factory=dict)


STATUS = {
    "resilience": "on",
    "dependencies": [
        {"name": "timeline-1", "breaker": "open"},
        {"name": "timeline-2", "breaker": "half-open"},
        {"name": "users", "breaker": "closed"},
    ],
    "outbox_depth": {"fanout": 12, "dms": None},
}


def test_rates_are_taken_over_the_window_so_three_second_reports_do_not_swing_them() -> None:
    series = Series(window_s=6.0)
    # workers report every 3 s: the cumulative counts jump by 300 answers every third second
    shown = []
    for second in range(13):
        reported = (second // 3) * 300
        now = Counts(requests=reported, errors=reported // 10, degraded=reported // 5)
        shown.append(series.add(float(second), now, {}, gateway_state(None), 0))
    last = shown[-1]
    # 6 s back from t=12: 1200 - 600 answers in 6 s = 100/s, 10/s errors, 20/s degraded
    assert (last["ok"], last["degraded"], last["error"]) == (70.0, 20.0, 10.0)
    assert all(p["ok"] >= 0 for p in shown)


def test_counts_leave_out_the_oracles_and_the_open_loop() -> None:
    stats = FakeStats(
        total=FakeEntry(None, num_requests=110, num_failures=14),
        entries={
            ("GET /timeline", "GET"): FakeEntry("GET", 100, 4),
            ("lost_writes", "ORACLE"): FakeEntry("ORACLE", 7, 7),
            ("dropped arrival", "OPEN_LOOP"): FakeEntry("OPEN_LOOP", 3, 3),
        },
    )
    snapshot = {"degraded": {"GET /timeline": 5, "GET /trends": 2}}
    assert counts(stats, snapshot) == Counts(requests=100, errors=4, degraded=7)


def test_a_point_holds_breakers_outboxes_percentiles_and_violations() -> None:
    total = FakeEntry(None, 10, 0, current={0.5: 12, 0.95: 80, 0.99: 250})
    sampler = Sampler(
        stats=lambda: FakeStats(total),
        snapshot=lambda: {"degraded": {}, "oracles": {"violations": 3}},
        status=lambda: STATUS,
        clock=lambda: 1000.0,
    )
    point = sampler.sample()
    assert point is not None
    assert point["breakers"] == {"timeline-1": "open", "timeline-2": "half-open", "users": "closed"}
    assert point["outbox"] == {"fanout": 12, "dms": None}
    assert (point["p50"], point["p95"], point["p99"]) == (12.0, 80.0, 250.0)
    assert point["violations"] == 3 and point["resilience"] == "on" and point["t"] == 1000.0


def test_no_percentiles_before_any_request_and_no_breakers_without_the_gateway() -> None:
    assert percentiles(FakeStats(FakeEntry(None))) == {"p50": None, "p95": None, "p99": None}
    assert gateway_state(None) == {"breakers": {}, "outbox": {}, "resilience": None}


def test_a_new_run_starts_a_new_series() -> None:
    clock = iter(float(t) for t in range(100, 200))
    requests = [0]

    def stats() -> FakeStats:
        requests[0] += 50
        return FakeStats(FakeEntry(None, requests[0]))

    sampler = Sampler(stats, lambda: {}, lambda: None, lambda: next(clock))
    for _ in range(5):
        sampler.sample()
    assert len(sampler.series.points) == 5
    sampler.reset()
    assert sampler.answer(0.0) == {"points": [], "next": 0.0}
    requests[0] = 0  # Locust reset its statistics for the new run
    first = sampler.sample()
    assert first is not None and first["ok"] == 0.0  # no rate across the two runs
    assert len(sampler.series.points) == 1


@pytest.mark.parametrize("after, expected", [(0.0, [1.0, 2.0, 3.0]), (2.0, [3.0]), (3.0, [])])
def test_after_pages_the_points(after: float, expected: list[float]) -> None:
    series = Series()
    for t in (1.0, 2.0, 3.0):
        series.add(t, Counts(0, 0, 0), {}, gateway_state(None), 0)
    sampler = Sampler(lambda: None, dict, lambda: None, lambda: 0.0, series)
    answer = sampler.answer(after)
    assert [p["t"] for p in answer["points"]] == expected
    assert answer["next"] == (expected[-1] if expected else after)


def test_counters_going_back_mid_run_restart_the_rates() -> None:
    series = Series(window_s=6.0)
    series.add(1.0, Counts(1000, 0, 0), {}, gateway_state(None), 0)
    point = series.add(2.0, Counts(10, 0, 0), {}, gateway_state(None), 0)
    assert point["ok"] == 0.0  # never a negative rate from a reset
