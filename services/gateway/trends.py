"""`GET /v1/trends` through the gateway: one call to trends at a time, its answer shared.

Trends change by the minute, and every reader asks for the same list: an answer is served to
every reader for `FRESH_S`, and readers who ask while a call is on wait for that call instead
of starting their own. A reader who gives up leaves only that one call running (bounded by the
edge's deadline); its answer serves the next readers. While trends is away (resilience on) the
answer is an empty list flagged `trends=unavailable`.
"""

import asyncio
import contextlib

from starlette.responses import Response

from services.common.downstream import Downstream
from services.common.errors import DependencyUnavailable
from services.gateway.degraded import Degradations, degraded_response

FRESH_S = 2.0


class TrendsReader:
    def __init__(
        self,
        trends: Downstream,
        degradations: Degradations,
        resilient: bool,
        fresh_s: float = FRESH_S,
    ) -> None:
        self.trends = trends
        self.degradations = degradations
        self.resilient = resilient
        self.fresh_s = fresh_s
        self._answer: tuple[bytes, str] | None = None
        self._answered_at = 0.0
        self._calling: asyncio.Task[tuple[bytes, str]] | None = None

    async def read(self) -> Response:
        now = asyncio.get_running_loop().time()
        answer = self._answer if now - self._answered_at < self.fresh_s else None
        if answer is None:
            if self._calling is None:
                self._calling = asyncio.create_task(self._call(now), name="trends-call")
                self._calling.add_done_callback(_retrieved)
            try:
                # shield: a reader who gives up does not cancel what the others wait for
                answer = await asyncio.shield(self._calling)
            except DependencyUnavailable:
                if not self.resilient:
                    raise
                reason = self.degradations.served("trends", "unavailable")
                return degraded_response({"items": []}, [reason])
        content, media_type = answer
        return Response(content=content, media_type=media_type)

    async def close(self) -> None:
        if self._calling is not None:
            self._calling.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._calling

    async def _call(self, started: float) -> tuple[bytes, str]:
        try:
            answer = await self.trends.request("GET", "/internal/trends")
            kept = (answer.content, answer.headers.get("content-type", "application/json"))
            self._answer, self._answered_at = kept, started
            return kept
        finally:
            self._calling = None


def _retrieved(task: "asyncio.Task[tuple[bytes, str]]") -> None:
    # Its readers may all have gone: the outcome is read here so that none is left unretrieved.
    if not task.cancelled():
        task.exception()
