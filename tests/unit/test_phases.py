"""Phases of a run on made-up request records: where each request falls, and exact figures per
phase (nearest-rank percentiles, error and degraded shares, throughput)."""

import pytest

from chaos.observation import FaultWindow, Observation, Outcome, RequestRecord
from chaos.phases import (
    fault_span,
    phase_spans,
    phase_stats,
    split_requests,
    stats_by_request,
)
from loadtest.vocabulary import percentile


def obs_with(
    *records: tuple[float, float, Outcome], faults: list[FaultWindow] | None = None
) -> Observation:
    obs = Observation("made-up", "local", "on", 100.0)
    obs.requests = [RequestRecord(t, "GET /v1/timeline", lat, out) for t, lat, out in records]
    obs.faults = faults if faults is not None else [FaultWindow("kill", "posts", 40.0, 70.0, True)]
    return obs


def test_percentile_is_nearest_rank_over_sorted_values() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == 50.0
    assert percentile(values, 95) == 95.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([7.0], 99) == 7.0
    assert percentile([1.0, 2.0, 3.0], 50) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0  # a latency some request had, no mean


def test_percentile_of_nothing_is_none() -> None:
    assert percentile([], 99) is None


def test_phases_run_from_first_fault_start_to_last_fault_end_when_faults_overlap() -> None:
    faults = [
        FaultWindow("kill", "timeline-1", 30.0, 50.0, True),
        FaultWindow("latency", "posts", 45.0, 80.0, True),
        FaultWindow("kill", "timeline-2", 35.0, 40.0, True),
    ]
    spans = phase_spans(obs_with(faults=faults))
    assert (spans["steady"].start_s, spans["steady"].end_s) == (0.0, 30.0)
    assert (spans["fault"].start_s, spans["fault"].end_s) == (30.0, 80.0)
    assert (spans["recovery"].start_s, spans["recovery"].end_s) == (80.0, 100.0)


def test_a_fault_never_reverted_lasts_until_the_end_of_the_run() -> None:
    obs = obs_with(faults=[FaultWindow("pause", "redis", 60.0, None, True)])
    assert fault_span(obs) == (60.0, 100.0)
    assert phase_spans(obs)["recovery"].length_s == 0.0


def test_requests_fall_in_the_phase_they_were_sent_in_boundaries_included_on_the_right() -> None:
    obs = obs_with((0.0, 1, "ok"), (39.99, 1, "ok"), (40.0, 1, "ok"), (69.9, 1, "ok"),
                   (70.0, 1, "ok"), (100.5, 1, "ok"), (-0.1, 1, "ok"))  # fmt: skip
    split = split_requests(obs)
    assert sorted(r.t for r in split["steady"]) == [-0.1, 0.0, 39.99]
    assert [r.t for r in split["fault"]] == [40.0, 69.9]
    assert [r.t for r in split["recovery"]] == [70.0, 100.5]


def test_phase_figures_are_exact_shares_rates_and_percentiles() -> None:
    Row = tuple[float, float, Outcome]
    # t 0..39.6 s, latencies 1..100 ms
    steady: list[Row] = [(float(i) * 0.4, float(i + 1), "ok") for i in range(100)]
    fault: list[Row] = [(40.0 + i, 500.0, "error") for i in range(3)] + [
        (45.0 + i, 50.0, "degraded") for i in range(6)
    ] + [(55.0, 10.0, "ok")]  # fmt: skip
    obs = obs_with(*steady, *fault)
    stats = phase_stats(obs)
    s, f, r = stats["steady"], stats["fault"], stats["recovery"]
    assert (s.requests, s.error_rate, s.degraded_rate) == (100, 0.0, 0.0)
    assert s.rps == pytest.approx(100 / 40)
    assert (s.p50_ms, s.p95_ms, s.p99_ms) == (50.0, 95.0, 99.0)
    assert f.requests == 10
    assert f.rps == pytest.approx(10 / 30)
    assert f.error_rate == pytest.approx(0.3)
    assert f.degraded_rate == pytest.approx(0.6)  # degraded apart from the errors
    assert (f.p50_ms, f.p99_ms) == (50.0, 500.0)
    assert (r.requests, r.rps, r.error_rate, r.p99_ms) == (0, 0.0, None, None)


def test_a_run_without_faults_is_all_steady_with_empty_fault_and_recovery_phases() -> None:
    obs = obs_with((1.0, 5.0, "ok"), (99.0, 7.0, "error"), (100.2, 9.0, "ok"), faults=[])
    spans = phase_spans(obs)
    assert (spans["steady"].start_s, spans["steady"].end_s) == (0.0, 100.0)
    assert spans["fault"].length_s == 0.0 and spans["recovery"].length_s == 0.0
    stats = phase_stats(obs)
    assert stats["steady"].requests == 3
    assert stats["steady"].error_rate == pytest.approx(1 / 3)
    for empty in (stats["fault"], stats["recovery"]):
        assert empty.requests == 0
        assert empty.rps is None  # no time in the phase: no throughput to speak of
        assert (empty.error_rate, empty.degraded_rate, empty.p50_ms, empty.p99_ms) == (
            None, None, None, None,
        )  # fmt: skip


def test_stats_by_request_name_separate_the_parts_a_fault_reached() -> None:
    obs = obs_with(faults=[FaultWindow("kill", "trends", 10.0, 20.0, True)])
    obs.requests = [
        RequestRecord(12.0, "GET /v1/trends", 300.0, "error"),
        RequestRecord(13.0, "GET /v1/timeline", 5.0, "ok"),
        RequestRecord(2.0, "GET /v1/trends", 4.0, "ok"),
    ]
    by_name = stats_by_request(obs)
    assert list(by_name) == ["GET /v1/timeline", "GET /v1/trends"]
    assert by_name["GET /v1/trends"]["fault"].error_rate == 1.0
    assert by_name["GET /v1/trends"]["steady"].error_rate == 0.0
    assert by_name["GET /v1/timeline"]["fault"].error_rate == 0.0


def test_requests_sent_well_after_the_scenarios_end_belong_to_no_phase() -> None:
    obs = obs_with((50.0, 1, "ok"), (100.9, 1, "ok"), (130.0, 1, "error"), faults=[])
    stats = phase_stats(obs)
    assert stats["steady"].requests == 2
    assert stats["steady"].error_rate == 0.0
