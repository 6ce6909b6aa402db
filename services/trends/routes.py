"""Internal routes of trends."""

from fastapi import APIRouter, Request

from services.common.auth import InternalCaller
from services.common.wire import Trend, Trends
from services.trends.board import TrendBoard

router = APIRouter(prefix="/internal", tags=["trends"])


@router.get("/trends")
async def trends(request: Request, _: InternalCaller) -> Trends:
    board: TrendBoard = request.app.state.board
    ranked = await board.ranking()
    return Trends(items=[Trend(tag=tag, count=count) for tag, count in ranked])
