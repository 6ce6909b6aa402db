"""The ranking trends serves: computed at most once every `FRESH_S`, and never twice at once.

Every caller in between gets the last ranking; callers that arrive while one is computed wait
for that one. A caller that gives up (the gateway's 0.35 s deadline) leaves nothing behind but
the one computation, which finishes and serves the next callers: abandoned calls do not pile
up reads of the whole window in Redis.
"""

import asyncio

from services.common.single_flight import SingleFlight
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
        self._computing: SingleFlight[Ranking] = SingleFlight("trend-ranking")

    async def ranking(self) -> Ranking:
        now = asyncio.get_running_loop().time()
        if self._ranking is not None and now - self._computed_at < self.fresh_s:
            return self._ranking
        return await self._computing.run(lambda: self._compute(now))

    async def close(self) -> None:
        await self._computing.close()

    async def _compute(self, started: float) -> Ranking:
        ranking = await self.counts.top(self.window_minutes, self.top)
        self._ranking, self._computed_at = ranking, started
        return ranking
