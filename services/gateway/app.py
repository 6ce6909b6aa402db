"""The gateway app: the public Chirp API on :8080, with OpenAPI docs at /docs."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext

from fastapi import FastAPI

from services.common.service_app import build_service_app
from services.common.settings import settings_from_environment
from services.gateway import routes, status
from services.gateway.admission import Admission, AdmissionControl, AdmissionPolicy
from services.gateway.backends import open_backends
from services.gateway.drainer import not_running
from services.gateway.settings import GatewaySettings
from services.gateway.wiring import run_gateway

DESCRIPTION = """The public API of Chirp, a small Twitter-like app built to be broken on purpose.

Errors are `application/problem+json` (RFC 9457). Writes accept an `Idempotency-Key` header:
a retry with the same key returns the first answer; the same key with another body is refused
with 422. Answers that come partly from a fallback carry `X-Degraded` and a `degraded` list.
"""


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or settings_from_environment(GatewaySettings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        metrics = app.state.metrics
        admission = app.state.admission
        async with (
            open_backends(settings, app.state.token_keys, metrics) as backends,
            run_gateway(settings, backends, app.state.redis, metrics) as gateway,
            admission.watching() if admission else nullcontext(),
        ):
            app.state.backends = backends
            app.state.gateway = gateway
            app.state.readiness_checks = [lambda: not_running(gateway.drainers)]
            yield

    app = build_service_app(
        settings,
        title="Chirp",
        description=DESCRIPTION,
        routers=[routes.router, status.router],
        lifespan=lifespan,
        docs=True,
    )
    app.state.admission = None
    if settings.resilience == "on":
        # Outermost: a request the gateway cannot serve soon is shed before anything else.
        app.state.admission = Admission(admission_policy(settings), app.state.metrics)
        app.add_middleware(AdmissionControl, admission=app.state.admission)
        if app.fast_lanes is not None:  # a lane's reads are admitted or shed the same way
            app.fast_lanes.wrap(lambda inner: AdmissionControl(inner, app.state.admission))
    return app


def admission_policy(settings: GatewaySettings) -> AdmissionPolicy:
    return AdmissionPolicy(
        max_limit=settings.admission_max_limit,
        min_limit=min(settings.admission_min_limit, settings.admission_max_limit),
        max_waiting=settings.admission_queue,
        queue_timeout_s=settings.admission_queue_timeout_s,
        standing_queue_timeout_s=settings.admission_standing_queue_timeout_s,
        lag_target_s=settings.admission_lag_target_s,
        budget_s=settings.request_budget_s,
    )
