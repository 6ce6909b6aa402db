"""Internal routes of trends."""

from fastapi import APIRouter, Request

from services.common.auth import InternalCaller
from services.common.redis_store import RedisDep
from services.common.wire import Trend, Trends
from services.trends.store import TrendCounts

router = APIRouter(prefix="/internal", tags=["trends"])


@router.get("/trends")
async def trends(request: Request, redis: RedisDep, _: InternalCaller) -> Trends:
    settings = request.app.state.settings
    ranked = await TrendCounts(redis).top(settings.window_minutes, settings.top)
    return Trends(items=[Trend(tag=tag, count=count) for tag, count in ranked])
