"""`GET /v1/trends` through the gateway: at most one call to trends at a time.

Every reader asks for the same list, so readers who arrive while a call is on wait for that
call instead of starting their own (trends itself keeps its ranking for a few seconds). A
reader who gives up leaves only that one call running, bounded by the edge's deadline: however
many readers come and go while trends is slow, the gateway has one call out, not one each.
While trends is away (resilience on) the answer is an empty list flagged `trends=unavailable`,
at once: no answer is served after the call that fetched it has ended.
"""

from starlette.responses import Response

from services.common.downstream import Downstream
from services.common.errors import DependencyUnavailable
from services.common.single_flight import SingleFlight
from services.gateway.degraded import Degradations, degraded_response

Answer = tuple[bytes, str]


class TrendsReader:
    def __init__(self, trends: Downstream, degradations: Degradations, resilient: bool) -> None:
        self.trends = trends
        self.degradations = degradations
        self.resilient = resilient
        self._call_out: SingleFlight[Answer] = SingleFlight("trends-call")

    async def read(self) -> Response:
        try:
            content, media_type = await self._call_out.run(self._call)
        except DependencyUnavailable:
            if not self.resilient:
                raise
            reason = self.degradations.served("trends", "unavailable")
            return degraded_response({"items": []}, [reason])
        return Response(content=content, media_type=media_type)

    async def close(self) -> None:
        await self._call_out.close()

    async def _call(self) -> Answer:
        answer = await self.trends.request("GET", "/internal/trends")
        return answer.content, answer.headers.get("content-type", "application/json")
