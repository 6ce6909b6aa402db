"""Builds a Chirp service: the FastAPI app with everything services share wired in once."""

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext

from fastapi import APIRouter, FastAPI
from fastapi.telemetry import TelemetryConfig
from starlette.types import ASGIApp, Receive, Scope, Send

from services.common import health
from services.common.auth import TokenKeys
from services.common.body_limit import BodySizeLimit
from services.common.deadline import Deadlines
from services.common.errors import install_error_handlers
from services.common.fast_lane import FastLanes, LaneRouter
from services.common.fault_hook import FaultInjection, install_fault_hook
from services.common.internal_listener import internal_listener
from services.common.logs import configure_logging
from services.common.metrics import RequestMetrics, ServiceMetrics, install_metrics
from services.common.redis_store import connect_redis, install_redis_error_handler
from services.common.settings import ServiceSettings, refuse_unsafe_secrets

log = logging.getLogger("failwhale.settings")
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]
NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


class ServiceApp(FastAPI):
    """A service's FastAPI app, with its internal fast lanes in front (services.common.fast_lane):
    a request a lane takes is answered there; every other one by the app, as always."""

    fast_lanes: FastLanes | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lanes = self.fast_lanes
        if lanes is not None and scope["type"] == "http" and lanes.admit(scope) is not None:
            await lanes.serve(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def build_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter],
    lifespan: Lifespan | None = None,
    docs: bool = False,
) -> ServiceApp:
    """The app of one service. `lifespan` opens what the service needs beyond Redis. Refuses
    (UnsafeSecrets) settings without real secrets. With the fault hook on, the lifespan also
    serves the hook on the internal listener (`app.state.internal_port` once bound)."""
    refuse_unsafe_secrets(settings)

    @asynccontextmanager
    async def lifespan_with_redis(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.service_name, settings.log_level)
        if settings.dev_secrets:
            log.warning("FAILWHALE_DEV_SECRETS is on: published or short secrets are accepted")
        app.state.redis = connect_redis(settings, app.state.metrics)
        try:
            async with (
                _hook_listener(app, settings),
                lifespan(app) if lifespan else nullcontext(),
            ):
                yield
        finally:
            await app.state.redis.aclose()

    app = ServiceApp(
        title=title,
        description=description,
        version="1.0.0",
        lifespan=lifespan_with_redis,
        docs_url="/docs" if docs else None,
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
        # The services export Prometheus metrics, not OpenTelemetry: without this, FastAPI looks
        # up three OpenTelemetry providers on every request to find them unconfigured.
        telemetry=NO_TELEMETRY,
    )
    app.state.settings = settings
    app.state.token_keys = TokenKeys(settings.token_secret, settings.internal_secret)
    app.state.metrics = ServiceMetrics(settings.service_name)
    install_error_handlers(app)
    install_redis_error_handler(app)
    # Innermost, inside the request metrics: a request refused for a spent budget is counted.
    app.add_middleware(Deadlines)
    install_metrics(app, app.state.metrics)
    app.include_router(health.router)
    for router in routers:
        app.include_router(router)
    app.state.fault_hook_app = None
    if settings.fault_hook:
        keys, metrics = app.state.token_keys, app.state.metrics
        app.state.fault_hook_app = install_fault_hook(app, keys, metrics)
    app.add_middleware(BodySizeLimit)
    lanes = [lane for router in routers if isinstance(router, LaneRouter) for lane in router.lanes]
    if lanes:
        app.fast_lanes = FastLanes(app, lanes, app.state.token_keys, _route_layers(app))
    return app


def _route_layers(app: FastAPI) -> Callable[[ASGIApp], ASGIApp]:
    """The ASGI layers the app runs around its routes that a fast lane keeps, in the app's own
    order: the fault hook (when on), the request metrics, the caller's deadline. The body limit
    has nothing to limit (a lane takes no body); errors are answered by the lane itself."""
    metrics: ServiceMetrics = app.state.metrics

    def layered(endpoint: ASGIApp) -> ASGIApp:
        inner: ASGIApp = RequestMetrics(Deadlines(endpoint), metrics)
        if app.state.fault_hook_app is None:
            return inner
        return FaultInjection(inner, app.state.faults, app.state.token_keys, metrics)

    return layered


@asynccontextmanager
async def _hook_listener(app: FastAPI, settings: ServiceSettings) -> AsyncIterator[None]:
    if app.state.fault_hook_app is None:
        yield
        return
    host, port = settings.internal_host, settings.internal_port
    async with internal_listener(app.state.fault_hook_app, host, port) as bound:
        app.state.internal_port = bound
        yield
