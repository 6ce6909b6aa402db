"""A bulkhead: at most N calls in flight to one dependency, so a slow dependency holds N workers,
not all of them. Past N a call is refused at once, unless the bulkhead has a waiting room: then
up to `max_waiting` callers wait, first come first served, at most `max_wait_s` each, for a slot
another call gives back (a burst is smoothed; a flood is still refused)."""

import asyncio
from collections import deque


class BulkheadFull(Exception):
    def __init__(self, name: str, limit: int) -> None:
        super().__init__(f"{name} has {limit} calls in flight already")
        self.name = name


class Bulkhead:
    def __init__(
        self, name: str, limit: int, max_waiting: int = 0, max_wait_s: float = 0.0
    ) -> None:
        self.name = name
        self.limit = limit
        self.max_waiting = max_waiting if max_wait_s > 0 else 0
        self.max_wait_s = max_wait_s
        self.in_flight = 0
        self._waiting: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    async def enter(self) -> None:
        # One event loop, no await between the check and the increment: no lock needed.
        if self.in_flight < self.limit and not self._waiting:
            self.in_flight += 1
            return
        if len(self._waiting) >= self.max_waiting:
            raise BulkheadFull(self.name, self.limit)
        slot: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(slot)
        try:
            async with asyncio.timeout(self.max_wait_s):
                await slot
        except BaseException as exc:
            if slot.done() and not slot.cancelled():
                self.leave()  # a slot was handed over just as this caller gave up: pass it on
            elif slot in self._waiting:
                self._waiting.remove(slot)
            if isinstance(exc, TimeoutError):
                raise BulkheadFull(self.name, self.limit) from exc
            raise

    def leave(self) -> None:
        """Give the slot back, straight to the first caller still waiting if there is one (not
        when the limit was lowered below the calls in flight: then the slot goes)."""
        while self._waiting and self.in_flight <= self.limit:
            slot = self._waiting.popleft()
            if not slot.done():
                slot.set_result(None)
                return
        self.in_flight -= 1
