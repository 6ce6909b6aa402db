"""The ranking trends serves: computed at most once every `FRESH_S`, and never twice at once.

Every caller in between gets the last ranking; callers that arrive while one is computed wait
for that one. A caller that gives up (the gateway's 0.35 s deadline) leaves nothing behind but
the one computation, which finishes and serves the next callers: abandoned calls do not pile
up reads of the whole window in Redis.
"""

import asyncio
import contextlib

from services.trends.store import TrendCounts

FRESH_S = 5.0
Ranking = list[tuple[str, int]]


class TrendBoard:
    def __init__(
        self, counts: TrendCounts, window_minutes: int, top: int, fresh_s: float = FRESH_S
    ) -> None:
        self.counts = counts
        self.window_minutes = window_minutes
        self.top = top
        self.fresh_s = fresh_s
        self._ranking: Ranking | None = None
        self._computed_at = 0.0
        self._computing: asyncio.Task[Ranking] | None = None

    async def ranking(self) -> Ranking:
        now = asyncio.get_running_loop().time()
        if self._ranking is not None and now - self._computed_at < self.fresh_s:
            return self._ranking
        if self._computing is None:
            self._computing = asyncio.create_task(self._compute(now), name="trend-ranking")
            self._computing.add_done_callback(_retrieved)
        # shield: a caller that gives up does not cancel what the others wait for
        return await asyncio.shield(self._computing)

    async def close(self) -> None:
        if self._computing is not None:
            self._computing.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._computing

    async def _compute(self, started: float) -> Ranking:
        try:
            ranking = await self.counts.top(self.window_minutes, self.top)
            self._ranking, self._computed_at = ranking, started
            return ranking
        finally:
            self._computing = None


def _retrieved(task: "asyncio.Task[Ranking]") -> None:
    # Its callers may all have gone: the outcome is read here so that none is left unretrieved.
    if not task.cancelled():
        task.exception()
