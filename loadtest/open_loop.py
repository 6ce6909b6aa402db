"""Open-loop mode: user actions arrive at a constant rate and each runs in a greenlet of its own,
so a slow system does not slow the arrivals down. Closed-loop users wait for each answer before
the next request, which hides queueing: their rate drops exactly when the system is in trouble.

The run's rate (`--rate`, arrivals per second) is split evenly over the users it starts with.
A user with more than MAX_IN_FLIGHT actions still unanswered drops the next arrival instead of
queueing it (and counts it), so memory stays bounded when the system stops answering.

An arrival whose user is busy past its due time (the generator short of CPU, a user still
signing in) is issued late, not skipped: the ledger (loadtest/schedule.py) counts how late each
one started and times each action from its due time as well as from its start, so a generator
that fell behind says so.
"""

import random
import time
from collections.abc import Callable
from typing import Any

import gevent.pool

from loadtest.schedule import Ledger

MAX_IN_FLIGHT = 200


class Arrivals:
    """Arrival n is due at start + phase + n / rate, whenever earlier ones finish."""

    def __init__(self, rate: float, start: float, rng: random.Random | None = None) -> None:
        if rate <= 0:
            raise ValueError("an open loop needs a rate above 0")
        self.interval = 1.0 / rate
        self.next_due = start + (rng or random.Random()).uniform(0, self.interval)
        self.due: float | None = None  # of the arrival waited for, until it is issued

    def wait(self, now: float) -> float:
        """Seconds until the next arrival (0 if it is late), then schedules the one after."""
        self.due = self.next_due
        self.next_due += self.interval
        return max(0.0, self.due - now)

    def take_due(self, now: float) -> float:
        """The due time of the arrival issued now (a user's first action, issued before any
        wait, is due when issued)."""
        due, self.due = self.due, None
        return now if due is None else due


class OpenLoop:
    def __init__(
        self,
        rate: float,
        on_drop: Callable[[], None],
        on_error: Callable[[BaseException], None],
        clock: Callable[[], float] = time.monotonic,
        ledger: Ledger | None = None,
    ) -> None:
        self.arrivals = Arrivals(rate, clock())
        self.clock = clock
        self.on_drop = on_drop
        self.on_error = on_error
        self.ledger = ledger or Ledger(rate, clock)
        self.in_flight = gevent.pool.Pool(MAX_IN_FLIGHT)

    def wait(self) -> float:
        return self.arrivals.wait(self.clock())

    def spawn(self, action: Callable[..., Any], *args: Any) -> None:
        due = self.arrivals.take_due(self.clock())
        full = self.in_flight.full()
        self.ledger.arrival(dropped=full)
        if full:
            self.on_drop()
            return
        self.in_flight.spawn(self._timed, due, action, *args)

    def withhold(self) -> None:
        """The arrival due is not sent (the user honours a shed answer's Retry-After): the
        schedule was kept, so it counts as offered, apart from those sent."""
        now = self.clock()
        due = self.arrivals.take_due(now)
        self.ledger.arrival(withheld=True)
        self.ledger.started_late(due, now)  # a loop too slow to withhold on time is behind too

    def stop(self) -> None:
        self.in_flight.kill(block=True, timeout=5)

    def _timed(self, due: float, action: Callable[..., Any], *args: Any) -> None:
        """Runs the action; its lateness counts from its due time to this greenlet's start
        (a generator short of CPU starts greenlets late too)."""
        started = self.clock()
        self.ledger.started_late(due, started)
        try:
            action(*args)
        except gevent.GreenletExit:
            raise  # stopped with the run: no latency to record
        except Exception as exc:  # reported like any task's exception, never lost
            self.on_error(exc)
        self.ledger.finished(due, started, self.clock())


def rate_per_user(rate: float, users: int | None) -> float:
    return rate / max(1, users or 1)
