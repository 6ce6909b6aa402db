"""Verdicts on made-up observations: each kind of hypothesis holding and failing, unobserved
metrics failing, invalid beating pass, and detection and recovery times from made-up samples."""

import pytest

from chaos.observation import FaultWindow, Observation, RequestRecord
from chaos.verdict import exit_code, judge, run_metrics, time_to_detect, time_to_recover
from tests.unit.observations import sample, scenario

CLEAN_ORACLES = {"lost_writes": 0, "duplicate_writes": 0, "dm_order_violations": 0,
                 "timeline_order_violations": 0, "read_your_writes_violations": 0,
                 "max_staleness_s": 1.5}  # fmt: skip


def outage(took_effect: bool = True, error_at: float | None = None) -> Observation:
    """90 s, a kill from 30 to 60 s; 10 requests a second, all ok (one error at `error_at`);
    the gateway's timeline-1 breaker open from 32 to 63 s."""
    obs = Observation("made-up", "local", "on", 90.0)
    obs.faults = [FaultWindow("kill", "timeline-1", 30.0, 60.0, took_effect, "exited", "signal")]
    obs.requests = [
        RequestRecord(i / 10, "GET /v1/timeline", 5.0, "error" if i / 10 == error_at else "ok")
        for i in range(900)
    ]
    obs.samples = [
        sample(float(t), timeline_1="open" if 32 <= t < 63 else "closed") for t in range(90)
    ]
    obs.oracles = dict(CLEAN_ORACLES)
    return obs


@pytest.mark.parametrize(
    ("hypothesis", "held"),
    [
        ({"metric": "error_rate", "phase": "fault", "max": 0.01}, True),
        ({"metric": "error_rate", "phase": "fault", "max": -0.5}, False),
        ({"metric": "p99_ms", "phase": "steady", "max": 10}, True),
        ({"metric": "p99_ms", "phase": "steady", "max": 4}, False),
        ({"metric": "rps", "phase": "recovery", "min": 9.5}, True),
        ({"metric": "rps", "phase": "recovery", "min": 11}, False),
        ({"metric": "requests", "phase": "steady", "min": 300, "max": 300}, True),
        ({"metric": "degraded_rate", "phase": "fault", "max": 0}, True),
        ({"metric": "lost_writes", "max": 0}, True),
        ({"metric": "max_staleness_s", "max": 1}, False),
        ({"metric": "max_staleness_s", "max": 2}, True),
        ({"metric": "time_to_detect_s", "max": 3}, True),
        ({"metric": "time_to_detect_s", "max": 1}, False),
        ({"metric": "time_to_recover_s", "max": 5}, True),
        ({"metric": "time_to_recover_s", "max": 2}, False),
    ],
)
def test_each_kind_of_hypothesis_holds_or_fails_on_its_observed_value(
    hypothesis: dict[str, object], held: bool
) -> None:
    judgement = judge(scenario(hypothesis), outage())
    assert [h.passed for h in judgement.hypotheses] == [held]
    assert judgement.verdict == ("pass" if held else "fail")


def test_observed_values_are_reported_with_name_and_expectation() -> None:
    s = scenario({"metric": "time_to_detect_s", "max": 3, "name": "breaker opens fast"},
                 {"metric": "p99_ms", "phase": "fault", "min": 1, "max": 10})  # fmt: skip
    first, second = judge(s, outage()).hypotheses
    assert (first.name, first.expect, first.observed) == ("breaker opens fast", "<= 3", 2.0)
    assert (second.name, second.expect, second.observed) == ("fault p99_ms", ">= 1 and <= 10", 5.0)


def test_an_unobserved_metric_does_not_hold() -> None:
    obs = outage()
    del obs.oracles["lost_writes"]  # the final audit never reported
    obs.requests = [r for r in obs.requests if not r.t >= 60]  # nothing sent after the fault
    s = scenario({"metric": "lost_writes", "max": 0},
                 {"metric": "error_rate", "phase": "recovery", "max": 1})  # fmt: skip
    judgement = judge(s, obs)
    assert [(h.observed, h.passed) for h in judgement.hypotheses] == [(None, False)] * 2
    assert judgement.verdict == "fail"


def test_a_fault_without_effect_makes_the_run_invalid_even_when_every_hypothesis_held() -> None:
    judgement = judge(scenario({"metric": "lost_writes", "max": 0}), outage(took_effect=False))
    assert all(h.passed for h in judgement.hypotheses)
    assert (judgement.verdict, judgement.fault_applied) == ("invalid", False)
    assert "proves nothing" in judgement.reason


def test_invalid_beats_fail_too() -> None:
    judgement = judge(scenario({"metric": "lost_writes", "max": -1}), outage(took_effect=False))
    assert judgement.verdict == "invalid"


def test_a_planned_fault_that_was_never_applied_makes_the_run_invalid() -> None:
    obs = outage()
    judgement = judge(scenario({"metric": "lost_writes", "max": 0}, faults=2), obs)
    assert judgement.verdict == "invalid"


def test_exit_codes_are_zero_for_pass_and_one_for_fail_or_invalid() -> None:
    assert [exit_code(v) for v in ("pass", "fail", "invalid")] == [0, 1, 1]


def test_detection_is_the_first_sample_after_the_fault_start_with_a_breaker_tripped() -> None:
    obs = outage()
    obs.samples = [sample(float(t), posts="half-open" if t >= 34 else "closed") for t in range(90)]
    assert time_to_detect(obs) == 4.0  # half-open means it opened in between samples


def test_detection_ignores_breakers_open_only_before_the_fault() -> None:
    obs = outage()
    obs.samples = [sample(float(t), dms="open" if t in (5, 6) else "closed") for t in range(90)]
    assert time_to_detect(obs) is None


def test_detection_is_none_when_no_breaker_ever_opened_or_there_was_no_fault() -> None:
    obs = outage()
    obs.samples = [sample(float(t)) for t in range(90)]
    assert time_to_detect(obs) is None
    obs = outage()
    obs.faults = []
    assert time_to_detect(obs) is None
    assert time_to_recover(obs) is None


def test_recovery_waits_for_every_breaker_to_close() -> None:
    assert time_to_recover(outage()) == 3.0  # last end 60 s, breaker closed at 63 s


def test_recovery_waits_until_the_error_rate_of_the_following_seconds_is_low() -> None:
    obs = outage()
    for t in range(63, 70):  # a burst of errors after the breaker closed: not healthy yet
        obs.requests[t * 10] = RequestRecord(float(t), "GET /v1/timeline", 5.0, "error")
    # 5 s windows from 63..69 s each hold at least one error in 50 requests (2 % > 1 %).
    assert time_to_recover(obs) == 70.0 - 60.0


def test_recovery_is_none_when_a_breaker_never_closes() -> None:
    obs = outage()
    obs.samples = [sample(float(t), timeline_1="open" if t >= 32 else "closed")
                   for t in range(90)]  # fmt: skip
    assert time_to_recover(obs) is None


def test_recovery_is_none_when_errors_never_stop() -> None:
    obs = outage()
    obs.requests = [RequestRecord(r.t, r.name, r.latency_ms, "error") for r in obs.requests]
    assert time_to_recover(obs) is None


def test_recovery_is_immediate_when_the_fault_left_no_trace() -> None:
    obs = outage()
    obs.samples = [sample(float(t)) for t in range(90)]
    assert time_to_recover(obs) == 0.0


def test_recovery_uses_the_samples_error_rate_when_there_are_no_request_records() -> None:
    obs = outage()
    obs.requests = []
    obs.samples = [sample(float(t), error_rate=0.5 if t < 66 else 0.0) for t in range(90)]
    assert time_to_recover(obs) == 6.0


def test_run_metrics_take_the_final_audit_counts_not_the_live_ones() -> None:
    obs = outage()
    obs.oracles["lost_writes"] = 3
    metrics = run_metrics(obs)
    assert metrics["lost_writes"] == 3.0
    assert metrics["max_staleness_s"] == 1.5
    assert (metrics["time_to_detect_s"], metrics["time_to_recover_s"]) == (2.0, 3.0)
