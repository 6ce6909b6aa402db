"""`/healthz` (the process answers) and `/readyz` (its Redis answers, and whatever background
work the app registered in `app.state.readiness_checks` is running) for every service."""

import asyncio

from fastapi import APIRouter, Request
from pydantic import BaseModel

from services.common.errors import DependencyUnavailable
from services.common.redis_store import REDIS_OUTAGES

router = APIRouter(tags=["health"])
READY_TIMEOUT_S = 1.0


class Health(BaseModel):
    status: str
    service: str


@router.get("/healthz")
async def healthz(request: Request) -> Health:
    return Health(status="ok", service=request.app.state.settings.service_name)


@router.get("/readyz")
async def readyz(request: Request) -> Health:
    try:
        await asyncio.wait_for(request.app.state.redis.ping(), READY_TIMEOUT_S)
    except (TimeoutError, *REDIS_OUTAGES) as exc:
        raise DependencyUnavailable("redis", "the store does not answer") from exc
    # Checks an app adds for its own background work (the gateway's outbox drainers).
    for check in getattr(request.app.state, "readiness_checks", ()):
        if (problem := check()) is not None:
            raise DependencyUnavailable("self", problem)
    return Health(status="ready", service=request.app.state.settings.service_name)
