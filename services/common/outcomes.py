"""A sliding window of call outcomes, for the recent error rate of each dependency."""

import time
from collections import deque


class OutcomeWindow:
    def __init__(self, window_s: float = 30.0) -> None:
        self.window_s = window_s
        self._events: deque[tuple[float, bool]] = deque()

    def record(self, ok: bool) -> None:
        now = time.monotonic()
        self._events.append((now, ok))
        self._trim(now)

    def error_rate(self) -> float:
        self._trim(time.monotonic())
        if not self._events:
            return 0.0
        failures = sum(1 for _, ok in self._events if not ok)
        return failures / len(self._events)

    def count(self) -> int:
        self._trim(time.monotonic())
        return len(self._events)

    def _trim(self, now: float) -> None:
        horizon = now - self.window_s
        while self._events and self._events[0][0] < horizon:
            self._events.popleft()
