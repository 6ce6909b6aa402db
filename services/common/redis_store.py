"""The Redis client every service uses, and the translation of Redis outages into 503s."""

from typing import Annotated

import redis.asyncio as aioredis
from fastapi import Depends, FastAPI, Request
from redis.exceptions import BusyLoadingError, ConnectionError, TimeoutError
from starlette.responses import Response

from services.common.errors import DependencyUnavailable, problem_response
from services.common.settings import ServiceSettings

REDIS_OUTAGES = (ConnectionError, TimeoutError, BusyLoadingError)


def connect_redis(settings: ServiceSettings) -> "aioredis.Redis":
    # A blocking pool waits up to the timeout for a free connection, where the default pool
    # raises at once when exhausted.
    pool = aioredis.BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=settings.redis_max_connections,
        timeout=settings.redis_timeout_s,
        socket_timeout=settings.redis_timeout_s,
        socket_connect_timeout=settings.redis_timeout_s,
        decode_responses=True,
    )
    return aioredis.Redis(connection_pool=pool)


def install_redis_error_handler(app: FastAPI) -> None:
    async def on_redis_outage(_: Request, exc: Exception) -> Response:
        error = DependencyUnavailable("redis", f"the store is unavailable ({type(exc).__name__})")
        return problem_response(error.status, error.title, error.detail, error.slug, error.headers)

    for outage in REDIS_OUTAGES:
        app.add_exception_handler(outage, on_redis_outage)


def get_redis(request: Request) -> "aioredis.Redis":
    client: aioredis.Redis = request.app.state.redis
    return client


RedisDep = Annotated[aioredis.Redis, Depends(get_redis)]
