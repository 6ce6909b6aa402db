"""`GET /v1/status`: how each dependency is doing, as the gateway sees it. Nothing private."""

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel

from services.gateway.deps import BackendsDep

router = APIRouter(prefix="/v1", tags=["status"])


class DependencyStatus(BaseModel):
    name: str
    breaker: Literal["closed", "open", "half-open", "none"]
    error_rate: float
    calls: int
    degraded: bool


class Status(BaseModel):
    service: str
    resilience: Literal["on", "off"]
    window_s: float
    dependencies: list[DependencyStatus]


@router.get("/status")
async def status(request: Request, backends: BackendsDep) -> Status:
    dependencies = [
        DependencyStatus(
            name=downstream.name,
            breaker="none",
            error_rate=round(downstream.outcomes.error_rate(), 4),
            calls=downstream.outcomes.count(),
            degraded=False,
        )
        for downstream in backends.all()
    ]
    settings = request.app.state.settings
    return Status(
        service=settings.service_name,
        resilience=settings.resilience,
        window_s=backends.users.outcomes.window_s,
        dependencies=dependencies,
    )
