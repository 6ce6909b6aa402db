"""The Redis client every service uses, guarded by a circuit breaker, and the translation of
Redis outages into 503 answers with Retry-After.

A paused Redis answers nothing: each command waits for the socket timeout, then the breaker
opens and the following commands fail at once until a probe gets through. With the resilience
layer off, commands wait up to the long unguarded timeout and nothing is refused early.

The client never sends a command twice: a connection that broke after Redis ran a command but
before its answer arrived leaves no way to know whether it ran, and a second INCR, DECR or
script would count twice. A pooled connection that Redis closed (a restart) is detected and
reopened when it is taken from the pool, before anything is sent on it. A full Redis (it runs
with `maxmemory-policy noeviction`, so it refuses writes rather than evicting data) is a 503.
"""

import asyncio
from typing import Annotated, Any

import redis.asyncio as aioredis
from fastapi import Depends, FastAPI, Request
from redis.asyncio.client import Pipeline
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import (
    BusyLoadingError,
    ConnectionError,
    OutOfMemoryError,
    ResponseError,
    TimeoutError,
)
from redis.maint_notifications import MaintNotificationsConfig
from starlette.responses import Response

from services.common.breaker import AsyncBreaker, BreakerConfig, BreakerOpen
from services.common.errors import DependencyUnavailable, problem_response
from services.common.metrics import ServiceMetrics
from services.common.policy import UNGUARDED_TIMEOUT_S
from services.common.settings import ServiceSettings

REDIS_OUTAGES = (ConnectionError, TimeoutError, BusyLoadingError)
REDIS_BREAKER = BreakerConfig(fail_max=3, reset_timeout_s=2.0)


class RedisSuspended(ConnectionError):
    """The breaker refused a command: Redis failed just before."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__("redis is failing; commands are suspended")
        self.retry_after_s = retry_after_s


class _Guard:
    """Runs one Redis round trip under the breaker."""

    def __init__(self, breaker: AsyncBreaker | None) -> None:
        self.breaker = breaker

    async def run(self, operation: Any) -> Any:
        if self.breaker is None:
            return await _round_trip(operation)
        try:
            admission = self.breaker.admit()
        except BreakerOpen as exc:
            raise RedisSuspended(exc.retry_after_s) from exc
        try:
            result = await _round_trip(operation)
        except asyncio.CancelledError:
            self.breaker.abandoned(admission)
            raise
        except REDIS_OUTAGES as exc:
            self.breaker.failed(admission, exc)
            raise
        except ResponseError:
            self.breaker.succeeded(admission)  # Redis answered; the command was wrong
            raise
        self.breaker.succeeded(admission)
        return result


async def _round_trip(operation: Any) -> Any:
    """One round trip, with a connection the peer closed under it reported as what it is.

    uvloop raises `RuntimeError("unable to perform operation on <TCPTransport closed=True ...>;
    the handler is closed")` for a write on a transport Redis reset, where asyncio's own loop
    raises a `ConnectionError`; redis-py drops the connection either way but passes the
    RuntimeError on, which would be a 500 instead of an outage (a 503, counted by the breaker).
    """
    try:
        return await operation()
    except RuntimeError as exc:
        if "handler is closed" not in str(exc) and "closed=True" not in str(exc):
            raise
        raise ConnectionError(f"the connection to redis was closed under a command: {exc}") from exc


class GuardedPipeline(Pipeline):
    guard: _Guard

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        execute = super().execute
        result: list[Any] = await self.guard.run(lambda: execute(raise_on_error))
        return result


class GuardedRedis(aioredis.Redis):
    guard: _Guard

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        execute: Any = super().execute_command
        return await self.guard.run(lambda: execute(*args, **options))

    def pipeline(self, transaction: bool = True, shard_hint: str | None = None) -> Pipeline:
        pipe = GuardedPipeline(
            self.connection_pool, self.response_callbacks, transaction, shard_hint
        )
        pipe.guard = self.guard
        return pipe


def connect_redis(settings: ServiceSettings, metrics: ServiceMetrics) -> GuardedRedis:
    resilient = settings.resilience == "on"
    timeout = settings.redis_timeout_s if resilient else UNGUARDED_TIMEOUT_S
    # A blocking pool waits (up to the timeout) for a free connection, where the default pool
    # raises at once when exhausted. No command is retried by the client (the module says why);
    # callers retry whole steps that are safe to repeat, and the breaker decides when to stop.
    pool = aioredis.BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=settings.redis_max_connections,
        timeout=timeout,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        decode_responses=True,
        retry=Retry(NoBackoff(), 0),
        # redis-py checks a pooled connection for a closed peer (a Redis restart) before using
        # it, but skips that check while maintenance notifications are "auto" (its default):
        # the first command on each stale connection then failed, and without a client retry
        # every service's first request after a Redis restart was a 503. The stack runs no
        # managed Redis that would send those notifications.
        maint_notifications_config=MaintNotificationsConfig(enabled=False),
    )
    client = GuardedRedis(connection_pool=pool)
    breaker = None
    if resilient:
        breaker = AsyncBreaker("redis", REDIS_BREAKER, on_change=metrics.breaker_changed)
        metrics.breaker_state.labels(metrics.service, "redis").set(0)
    client.guard = _Guard(breaker)
    return client


def install_redis_error_handler(app: FastAPI) -> None:
    async def on_redis_outage(_: Request, exc: Exception) -> Response:
        retry_after = int(getattr(exc, "retry_after_s", 0) + 0.999) or 1
        error = DependencyUnavailable(
            "redis", f"the store is unavailable ({type(exc).__name__})", retry_after
        )
        return problem_response(error.status, error.title, error.detail, error.slug, error.headers)

    async def on_redis_full(_: Request, exc: Exception) -> Response:
        error = DependencyUnavailable(
            "redis", "the store is full and refuses writes; try again later", 5
        )
        return problem_response(error.status, error.title, error.detail, error.slug, error.headers)

    for outage in REDIS_OUTAGES:
        app.add_exception_handler(outage, on_redis_outage)
    app.add_exception_handler(OutOfMemoryError, on_redis_full)


async def get_redis(request: Request) -> GuardedRedis:
    client: GuardedRedis = request.app.state.redis
    return client


RedisDep = Annotated[GuardedRedis, Depends(get_redis)]
