"""A circuit breaker for asyncio calls: pybreaker's state machine, with what it lacks for asyncio.

pybreaker keeps the state, the counters, the timer and notifies listeners. Around it:
- admission happens before the await, so an open breaker rejects without calling;
- half-open lets exactly one probe through; every other caller is rejected until it ends;
- a cancelled call (the caller went away) counts neither as a failure nor as a success;
- a call admitted before the breaker tripped, that fails after it, does not re-open the
  breaker nor restart its timer (outcomes are counted only for the state they were admitted in);
- besides pybreaker's consecutive-failure threshold, a failure *rate* over the recent calls
  trips it too, so a dependency failing every other call does not stay trusted.
"""

import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pybreaker

log = logging.getLogger("failwhale.breaker")

CLOSED, OPEN, HALF_OPEN = pybreaker.STATE_CLOSED, pybreaker.STATE_OPEN, pybreaker.STATE_HALF_OPEN
STATE_VALUES = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}


class BreakerOpen(Exception):
    """The breaker refused the call without making it."""

    def __init__(self, name: str, retry_after_s: float) -> None:
        super().__init__(f"breaker {name} is open")
        self.name = name
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class BreakerConfig:
    fail_max: int = 5
    reset_timeout_s: float = 5.0
    rate_window: int = 20
    rate_threshold: float = 0.5


@dataclass(frozen=True)
class Admission:
    generation: int
    probe: bool


StateListener = Callable[[str, str, str], None]  # (breaker name, old state, new state)


class _Notify(pybreaker.CircuitBreakerListener):
    def __init__(self, owner: "AsyncBreaker") -> None:
        self.owner = owner

    def state_change(self, cb: Any, old_state: Any, new_state: Any) -> None:
        self.owner._on_state_change(old_state.name if old_state else CLOSED, new_state.name)


class _Recorded(Exception):
    """Carries a failure into pybreaker's bookkeeping."""


class AsyncBreaker:
    def __init__(
        self,
        name: str,
        config: BreakerConfig,
        on_change: StateListener | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.config = config
        self.on_change = on_change
        self.clock = clock
        self._breaker = pybreaker.CircuitBreaker(
            fail_max=config.fail_max,
            reset_timeout=config.reset_timeout_s,
            name=name,
            throw_new_error_on_trip=False,
        )
        self._breaker.add_listener(_Notify(self))
        self._generation = 0
        self._probe_in_flight = False
        self._opened_at = 0.0
        self._recent: deque[bool] = deque(maxlen=config.rate_window)

    @property
    def state(self) -> str:
        return str(self._breaker.current_state)

    def retry_after_s(self) -> float:
        if self.state != OPEN:
            return 0.0
        return max(0.0, self._opened_at + self.config.reset_timeout_s - self.clock())

    def admit(self) -> Admission:
        """Let a call through or raise `BreakerOpen`. Call before the awaited work."""
        state = self.state
        if state == OPEN:
            if self.clock() < self._opened_at + self.config.reset_timeout_s:
                raise BreakerOpen(self.name, self.retry_after_s())
            self._breaker.half_open()
            state = HALF_OPEN
        if state == HALF_OPEN:
            if self._probe_in_flight:
                raise BreakerOpen(self.name, self.config.reset_timeout_s)
            self._probe_in_flight = True
            return Admission(self._generation, probe=True)
        return Admission(self._generation, probe=False)

    def succeeded(self, admission: Admission) -> None:
        if not self._current(admission):
            return
        self._release(admission)
        self._recent.append(True)
        self._breaker.call(_nothing)

    def failed(self, admission: Admission, reason: BaseException) -> None:
        if not self._current(admission):
            return
        self._release(admission)
        self._recent.append(False)
        with contextlib.suppress(_Recorded):
            self._breaker.call(_raise, reason)
        if self.state == CLOSED and self._rate_exceeded():
            self._breaker.open()

    def abandoned(self, admission: Admission) -> None:
        """The call was cancelled: count nothing, free the probe slot if it held it."""
        if self._current(admission):
            self._release(admission)

    def force_open(self) -> None:
        self._breaker.open()

    def _current(self, admission: Admission) -> bool:
        return admission.generation == self._generation

    def _release(self, admission: Admission) -> None:
        if admission.probe:
            self._probe_in_flight = False

    def _rate_exceeded(self) -> bool:
        if len(self._recent) < self.config.rate_window:
            return False
        failures = sum(1 for ok in self._recent if not ok)
        return failures / len(self._recent) >= self.config.rate_threshold

    def _on_state_change(self, old: str, new: str) -> None:
        self._generation += 1
        self._probe_in_flight = False
        if new == OPEN:
            self._opened_at = self.clock()
        if new == CLOSED:
            self._recent.clear()
        log.warning(
            "breaker state change",
            extra={"breaker": self.name, "from": old, "to": new, "event": "breaker_state"},
        )
        if self.on_change is not None:
            self.on_change(self.name, old, new)


def _nothing() -> None:
    return None


def _raise(reason: BaseException) -> None:
    raise _Recorded(str(reason)) from reason
