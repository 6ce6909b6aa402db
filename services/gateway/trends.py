"""`GET /v1/trends` through the gateway: at most one call to trends at a time.

Every reader asks for the same list, so readers who arrive while a call is on wait for that
call instead of starting their own (trends itself keeps its ranking for a few seconds). A
reader who gives up leaves only that one call running, bounded by the edge's deadline: however
many readers come and go while trends is slow, the gateway has one call out, not one each.
While trends is away (resilience on) the answer is an empty list flagged `trends=unavailable`,
at once: no answer is served after the call that fetched it has ended.
"""

import asyncio
import contextlib

from starlette.responses import Response

from services.common.downstream import Downstream
from services.common.errors import DependencyUnavailable
from services.gateway.degraded import Degradations, degraded_response

Answer = tuple[bytes, str]


class TrendsReader:
    def __init__(self, trends: Downstream, degradations: Degradations, resilient: bool) -> None:
        self.trends = trends
        self.degradations = degradations
        self.resilient = resilient
        self._calling: asyncio.Task[Answer] | None = None

    async def read(self) -> Response:
        if self._calling is None:
            self._calling = asyncio.create_task(self._call(), name="trends-call")
            self._calling.add_done_callback(_retrieved)
        try:
            # shield: a reader who gives up does not cancel what the others wait for
            content, media_type = await asyncio.shield(self._calling)
        except DependencyUnavailable:
            if not self.resilient:
                raise
            reason = self.degradations.served("trends", "unavailable")
            return degraded_response({"items": []}, [reason])
        return Response(content=content, media_type=media_type)

    async def close(self) -> None:
        if self._calling is not None:
            self._calling.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._calling

    async def _call(self) -> Answer:
        try:
            answer = await self.trends.request("GET", "/internal/trends")
            return answer.content, answer.headers.get("content-type", "application/json")
        finally:
            self._calling = None


def _retrieved(task: "asyncio.Task[Answer]") -> None:
    # Its readers may all have gone: the outcome is read here so that none is left unretrieved.
    if not task.cancelled():
        task.exception()
