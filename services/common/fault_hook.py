"""The fault hook: faults a chaos run injects into a service from inside, where the network
cannot be shaped (local processes) or a fault is about HTTP itself.

Off unless the service runs with `FAILWHALE_FAULT_HOOK=on`. When on, `PUT /internal/faults`
(service credential) sets added latency with jitter, a rate of injected 503 answers, and callers
to blackhole (a partition: their requests are held unanswered); every fault carries a duration
and reverts by itself when it runs out. `DELETE` reverts at once, `GET` shows what is active.
Health, readiness and metrics are never touched.

The routes are not on the service's public app (whose `/internal/faults` answers 404): they are
a small app of their own (`hook_app`), served on the internal listener
(services.common.internal_listener, `FAILWHALE_INTERNAL_HOST`:`FAILWHALE_INTERNAL_PORT`,
127.0.0.1:8001 by default), which no published port reaches. The injection itself is middleware
of the public app (`install_fault_hook`), sharing one `FaultState` with the hook's routes.
"""

import asyncio
import contextlib
import random
import time
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.telemetry import TelemetryConfig
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import ASGIApp, Receive, Scope, Send

from services.common.auth import SERVICE_HEADER, InternalCaller, TokenKeys, verify_service_token
from services.common.body_limit import BodySizeLimit
from services.common.errors import ChirpError, install_error_handlers, problem_response
from services.common.metrics import ServiceMetrics

SPARED = ("/healthz", "/readyz", "/metrics")
MAX_DURATION_S = 3600.0
NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


class FaultPlan(BaseModel):
    model_config = ConfigDict(extra="forbid")
    latency_ms: float = Field(0.0, ge=0, le=60_000)
    jitter_ms: float = Field(0.0, ge=0, le=60_000)
    error_rate: float = Field(0.0, ge=0, le=1)
    blackhole_callers: list[str] = Field(default_factory=list, max_length=16)
    duration_s: float = Field(gt=0, le=MAX_DURATION_S)


class ActiveFaults(BaseModel):
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    error_rate: float = 0.0
    blackhole_callers: list[str] = Field(default_factory=list)
    remaining_s: float = 0.0
    injected: int = 0


class FaultState:
    def __init__(self) -> None:
        self.plan: FaultPlan | None = None
        self.expires_at = 0.0
        self.injected = 0
        self.ended = asyncio.Event()

    def remaining_s(self) -> float:
        return max(0.0, self.expires_at - time.monotonic())

    def active(self) -> FaultPlan | None:
        if self.plan is not None and time.monotonic() >= self.expires_at:
            self.plan = None  # ran out: reverted by itself
        return self.plan

    def set(self, plan: FaultPlan) -> None:
        self.ended.set()  # whoever waited on the previous plan goes on
        self.ended = asyncio.Event()
        self.plan = plan
        self.expires_at = time.monotonic() + plan.duration_s

    def clear(self) -> None:
        self.plan = None
        self.ended.set()

    def describe(self) -> ActiveFaults:
        plan = self.active()
        if plan is None:
            return ActiveFaults(injected=self.injected)
        return ActiveFaults(
            latency_ms=plan.latency_ms,
            jitter_ms=plan.jitter_ms,
            error_rate=plan.error_rate,
            blackhole_callers=plan.blackhole_callers,
            remaining_s=round(self.expires_at - time.monotonic(), 3),
            injected=self.injected,
        )


class FaultInjection:
    """ASGI middleware applying the active faults to each request."""

    def __init__(
        self, app: ASGIApp, state: FaultState, keys: TokenKeys, metrics: ServiceMetrics
    ) -> None:
        self.app = app
        self.state = state
        self.keys = keys
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        plan = self.state.active() if scope["type"] == "http" else None
        if plan is None or scope["path"].startswith(SPARED):
            await self.app(scope, receive, send)
            return
        if plan.blackhole_callers and self._caller(scope) in plan.blackhole_callers:
            self._count("blackhole")
            # Held unanswered, like packets dropped, until the fault ends or the caller gives up.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.state.ended.wait(), self.state.remaining_s())
        if plan.latency_ms or plan.jitter_ms:
            self._count("latency")
            delay = plan.latency_ms + random.uniform(-plan.jitter_ms, plan.jitter_ms)
            await asyncio.sleep(max(0.0, delay) / 1000)
        if plan.error_rate and random.random() < plan.error_rate:
            self._count("http-error")
            response = problem_response(
                503, "Injected fault", "a chaos experiment answered this request", "injected"
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _caller(self, scope: Scope) -> str | None:
        for name, value in scope["headers"]:
            if name.decode().lower() == SERVICE_HEADER.lower():
                try:
                    return verify_service_token(self.keys, value.decode())
                except ChirpError:
                    return None
        return None

    def _count(self, kind: str) -> None:
        self.state.injected += 1
        self.metrics.injected_faults.labels(self.metrics.service, kind).inc()


router = APIRouter(prefix="/internal/faults", tags=["faults"], include_in_schema=False)


async def get_state(request: Request) -> FaultState:
    state: FaultState = request.app.state.faults
    return state


State = Annotated[FaultState, Depends(get_state)]


@router.put("")
async def set_faults(plan: FaultPlan, state: State, _: InternalCaller) -> ActiveFaults:
    state.set(plan)
    return state.describe()


@router.get("")
async def show_faults(state: State, _: InternalCaller) -> ActiveFaults:
    return state.describe()


@router.delete("", status_code=204)
async def clear_faults(state: State, _: InternalCaller) -> Response:
    state.clear()
    return Response(status_code=204)


def hook_app(state: FaultState, keys: TokenKeys) -> FastAPI:
    """The hook's own app, for the internal listener: `/internal/faults` and nothing else."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, telemetry=NO_TELEMETRY)
    app.state.faults = state
    app.state.token_keys = keys
    install_error_handlers(app)
    app.include_router(router)
    app.add_middleware(BodySizeLimit)
    return app


def install_fault_hook(app: FastAPI, keys: TokenKeys, metrics: ServiceMetrics) -> FastAPI:
    """Injection on `app` (the public one); returns the hook's app, which shares its state."""
    app.state.faults = FaultState()
    app.add_middleware(FaultInjection, state=app.state.faults, keys=keys, metrics=metrics)
    return hook_app(app.state.faults, keys)
