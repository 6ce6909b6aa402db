"""Internal routes of timeline; the gateway calls them with a service credential.

`GET /internal/timeline` also has a fast lane (services.common.fast_lane): the gateway's reads
take it; the route below stays the reference, and answers whatever the lane leaves to it."""

from typing import Annotated, Any

from fastapi import Depends, Request, Response
from pydantic import BaseModel

from services.common.auth import CurrentUser, InternalCaller, User
from services.common.fast_lane import LaneRouter, page_query
from services.common.paging import PAGE_DEFAULT, BeforeQuery, LimitQuery
from services.common.stream_consumer import StreamConsumer
from services.common.wire import PostPage
from services.timeline.home import HomePages, home_page_response

router = LaneRouter(prefix="/internal", tags=["timeline"])


class FanOutStatus(BaseModel):
    consumer: str
    processed: int
    lag: int


async def get_timelines(request: Request) -> HomePages:
    timelines: HomePages = request.app.state.timelines
    return timelines


Timelines = Annotated[HomePages, Depends(get_timelines)]


@router.get("/timeline", response_model=PostPage)
async def home_timeline(
    user: CurrentUser,
    timelines: Timelines,
    _: InternalCaller,
    limit: LimitQuery = PAGE_DEFAULT,
    before: BeforeQuery = None,
) -> Response:
    return await home_page(timelines, user.id, limit, before)


async def home_page(
    timelines: HomePages, reader_id: int, limit: int, before: int | None
) -> Response:
    """A reader's home page: the one call both the route and its fast lane make."""
    return home_page_response(await timelines.page(reader_id, limit + 1, before), limit)


async def _home_page_lane(state: Any, user: User, _token: str, args: tuple[Any, ...]) -> Response:
    limit, before = args
    return await home_page(state.timelines, user.id, limit, before)


router.lane("/timeline", page_query, _home_page_lane)


@router.get("/fanout")
async def fanout_status(request: Request, _: InternalCaller) -> FanOutStatus:
    consumer: StreamConsumer = request.app.state.consumer
    return FanOutStatus(
        consumer=consumer.config.consumer, processed=consumer.processed, lag=await consumer.lag()
    )
