"""The asyncio circuit breaker: thresholds, rejection, a single half-open probe, recovery, and
the pybreaker pitfalls it is built to avoid."""

import asyncio

import pytest

from services.common.breaker import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    AsyncBreaker,
    BreakerConfig,
    BreakerOpen,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(fail_max: int = 3, reset: float = 5.0, window: int = 1000) -> tuple[AsyncBreaker, Clock]:
    clock = Clock()
    changes: list[tuple[str, str]] = []
    breaker = AsyncBreaker(
        "dep",
        BreakerConfig(fail_max=fail_max, reset_timeout_s=reset, rate_window=window),
        on_change=lambda _name, old, new: changes.append((old, new)),
        clock=clock,
    )
    breaker.changes = changes  # type: ignore[attr-defined]
    return breaker, clock


def fail(breaker: AsyncBreaker) -> None:
    breaker.failed(breaker.admit(), RuntimeError("down"))


def test_breaker_opens_after_fail_max_consecutive_failures() -> None:
    breaker, _ = make(fail_max=3)
    fail(breaker)
    fail(breaker)
    assert breaker.state == CLOSED
    fail(breaker)
    assert breaker.state == OPEN
    assert breaker.changes == [(CLOSED, OPEN)]  # type: ignore[attr-defined]


def test_a_success_resets_the_consecutive_failure_count() -> None:
    breaker, _ = make(fail_max=3)
    fail(breaker)
    fail(breaker)
    breaker.succeeded(breaker.admit())
    fail(breaker)
    fail(breaker)
    assert breaker.state == CLOSED


def test_open_breaker_rejects_without_calling_until_the_reset_timeout() -> None:
    breaker, clock = make(fail_max=1, reset=5.0)
    fail(breaker)
    clock.now += 4.9
    with pytest.raises(BreakerOpen) as rejected:
        breaker.admit()
    assert rejected.value.retry_after_s == pytest.approx(0.1)
    assert breaker.state == OPEN


def test_half_open_lets_exactly_one_probe_through() -> None:
    breaker, clock = make(fail_max=1, reset=5.0)
    fail(breaker)
    clock.now += 5.0
    probe = breaker.admit()
    assert probe.probe
    assert breaker.state == HALF_OPEN
    for _ in range(10):
        with pytest.raises(BreakerOpen):
            breaker.admit()


def test_successful_probe_closes_the_breaker() -> None:
    breaker, clock = make(fail_max=1, reset=5.0)
    fail(breaker)
    clock.now += 5.0
    breaker.succeeded(breaker.admit())
    assert breaker.state == CLOSED
    assert not breaker.admit().probe
    assert breaker.changes == [(CLOSED, OPEN), (OPEN, HALF_OPEN), (HALF_OPEN, CLOSED)]  # type: ignore[attr-defined]


def test_failed_probe_reopens_and_restarts_the_timer() -> None:
    breaker, clock = make(fail_max=1, reset=5.0)
    fail(breaker)
    clock.now += 5.0
    breaker.failed(breaker.admit(), RuntimeError("still down"))
    assert breaker.state == OPEN
    clock.now += 4.0
    with pytest.raises(BreakerOpen):
        breaker.admit()
    clock.now += 1.0
    assert breaker.admit().probe


def test_cancelled_probe_frees_the_slot_without_counting() -> None:
    breaker, clock = make(fail_max=1, reset=5.0)
    fail(breaker)
    clock.now += 5.0
    probe = breaker.admit()
    breaker.abandoned(probe)
    assert breaker.state == HALF_OPEN
    assert breaker.admit().probe  # the next caller may probe


def test_cancellation_counts_neither_as_failure_nor_success() -> None:
    breaker, _ = make(fail_max=2)
    fail(breaker)
    breaker.abandoned(breaker.admit())  # would reset the count if it were a success
    fail(breaker)
    assert breaker.state == OPEN


def test_failure_of_a_call_admitted_before_the_trip_does_not_reset_the_timer() -> None:
    breaker, clock = make(fail_max=2, reset=5.0)
    slow = breaker.admit()  # admitted while closed, still in flight
    fail(breaker)
    fail(breaker)
    assert breaker.state == OPEN
    clock.now += 4.0
    breaker.failed(slow, RuntimeError("late"))  # from before the trip: ignored
    clock.now += 1.0
    assert breaker.admit().probe  # the timer still ran from the trip


def test_success_of_a_call_admitted_before_the_trip_does_not_close_it() -> None:
    breaker, _ = make(fail_max=1)
    slow = breaker.admit()
    fail(breaker)
    breaker.succeeded(slow)
    assert breaker.state == OPEN


def test_failure_rate_trips_the_breaker_even_without_consecutive_failures() -> None:
    breaker, _ = make(fail_max=100, window=10)
    for _ in range(4):
        breaker.succeeded(breaker.admit())
        fail(breaker)
    breaker.succeeded(breaker.admit())
    assert breaker.state == CLOSED  # 4 of 9: under half, and the window is not full yet
    fail(breaker)
    assert breaker.state == OPEN  # 5 of 10


@pytest.mark.anyio
async def test_concurrent_callers_in_half_open_get_one_probe() -> None:
    breaker, clock = make(fail_max=1, reset=5.0)
    fail(breaker)
    clock.now += 5.0
    outcomes: list[str] = []

    async def caller() -> None:
        try:
            admission = breaker.admit()
        except BreakerOpen:
            outcomes.append("rejected")
            return
        await asyncio.sleep(0.01)
        breaker.succeeded(admission)
        outcomes.append("probed")

    await asyncio.gather(*(caller() for _ in range(20)))
    assert outcomes.count("probed") == 1
    assert outcomes.count("rejected") == 19
    assert breaker.state == CLOSED
