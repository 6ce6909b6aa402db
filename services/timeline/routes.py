"""Internal routes of timeline; the gateway calls them with a service credential."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel

from services.common.auth import CurrentUser, InternalCaller
from services.common.paging import PAGE_DEFAULT, BeforeQuery, LimitQuery
from services.common.stream_consumer import StreamConsumer
from services.common.wire import PostPage
from services.timeline.home import HomePages, home_page_response

router = APIRouter(prefix="/internal", tags=["timeline"])


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
    return home_page_response(await timelines.page(user.id, limit + 1, before), limit)


@router.get("/fanout")
async def fanout_status(request: Request, _: InternalCaller) -> FanOutStatus:
    consumer: StreamConsumer = request.app.state.consumer
    return FanOutStatus(
        consumer=consumer.config.consumer, processed=consumer.processed, lag=await consumer.lag()
    )
