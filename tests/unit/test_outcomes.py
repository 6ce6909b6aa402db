"""OutcomeWindow: the recent error rate of a dependency, over a sliding window of time."""

import time

import pytest

from services.common.outcomes import OutcomeWindow


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    return now


def test_empty_window_has_no_errors_and_no_calls(clock: list[float]) -> None:
    window = OutcomeWindow()
    assert window.error_rate() == 0.0
    assert window.count() == 0


def test_error_rate_is_the_share_of_failed_calls(clock: list[float]) -> None:
    window = OutcomeWindow()
    for ok in (True, False, True, False, False):
        window.record(ok)
    assert window.count() == 5
    assert window.error_rate() == pytest.approx(0.6)


def test_calls_older_than_the_window_are_forgotten(clock: list[float]) -> None:
    window = OutcomeWindow(window_s=30.0)
    window.record(False)
    window.record(False)
    clock[0] += 20
    window.record(True)
    clock[0] += 10.5  # the two failures are now 30.5 s old, the success 10.5 s
    assert window.count() == 1
    assert window.error_rate() == 0.0


def test_a_call_exactly_at_the_window_edge_still_counts(clock: list[float]) -> None:
    window = OutcomeWindow(window_s=30.0)
    window.record(False)
    clock[0] += 30.0
    assert window.count() == 1
    assert window.error_rate() == 1.0


def test_window_recovers_to_zero_once_failures_age_out(clock: list[float]) -> None:
    window = OutcomeWindow(window_s=5.0)
    for _ in range(100):
        window.record(False)
    assert window.error_rate() == 1.0
    clock[0] += 6
    assert window.error_rate() == 0.0
    assert window.count() == 0
