"""Builds a Chirp service: the FastAPI app with everything services share wired in once."""

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext

from fastapi import APIRouter, FastAPI
from fastapi.telemetry import TelemetryConfig

from services.common import health
from services.common.auth import TokenKeys
from services.common.body_limit import BodySizeLimit
from services.common.errors import install_error_handlers
from services.common.fault_hook import install_fault_hook
from services.common.logs import configure_logging
from services.common.metrics import ServiceMetrics, install_metrics
from services.common.redis_store import connect_redis, install_redis_error_handler
from services.common.settings import ServiceSettings

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]
NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def build_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter],
    lifespan: Lifespan | None = None,
    docs: bool = False,
) -> FastAPI:
    """The app of one service. `lifespan` opens what the service needs beyond Redis."""

    @asynccontextmanager
    async def lifespan_with_redis(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.service_name, settings.log_level)
        app.state.redis = connect_redis(settings, app.state.metrics)
        try:
            async with lifespan(app) if lifespan else nullcontext():
                yield
        finally:
            await app.state.redis.aclose()

    app = FastAPI(
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
    install_metrics(app, app.state.metrics)
    app.include_router(health.router)
    for router in routers:
        app.include_router(router)
    if settings.fault_hook:
        install_fault_hook(app, app.state.token_keys, app.state.metrics)
    app.add_middleware(BodySizeLimit)
    return app
