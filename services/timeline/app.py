"""The timeline service app: serves home timelines and runs its share of the fan-out."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.common.auth import ServiceCredential
from services.common.breaker import BreakerConfig
from services.common.downstream import Downstream, open_http_client
from services.common.instance import instance_name
from services.common.policy import EdgePolicy
from services.common.retry import RetryPolicy
from services.common.service_app import build_service_app
from services.common.settings import settings_from_environment
from services.common.stream_consumer import ConsumerConfig, StreamConsumer
from services.common.wire import POST_EVENTS_STREAM
from services.timeline.fanout import FanOut
from services.timeline.heavy_follows import HeavyFollows
from services.timeline.home import HomePages
from services.timeline.routes import router
from services.timeline.settings import TimelineSettings
from services.timeline.store import HomeTimelines

CONSUMER_GROUP = "timeline"
# Fan-out is background work: it may wait longer than a user would, and it retries anyway.
FOLLOWERS_POLICY = EdgePolicy(
    read_timeout_s=2.0,
    deadline_s=3.0,
    retry=RetryPolicy(attempts=2),
    breaker=BreakerConfig(fail_max=5, reset_timeout_s=5.0),
)
# A reader's heavy follows are asked on a reader's path: short, one retry at most, and a page
# without them (flagged) rather than a slow page when users is away.
HEAVY_FOLLOWS_POLICY = EdgePolicy(
    read_timeout_s=0.5,
    deadline_s=0.8,
    retry=RetryPolicy(attempts=2),
    breaker=BreakerConfig(fail_max=5, reset_timeout_s=5.0),
)


def create_app(settings: TimelineSettings | None = None) -> FastAPI:
    settings = settings or settings_from_environment(TimelineSettings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_http_client() as http:
            credential = ServiceCredential(app.state.token_keys, settings.service_name)
            users = Downstream(
                "users",
                settings.users_url,
                http,
                credential,
                app.state.metrics,
                FOLLOWERS_POLICY,
                resilient=settings.resilience == "on",
            )
            timelines = HomeTimelines(app.state.redis, settings.home_max_len)
            heavy = HeavyFollows(
                Downstream(
                    "users-heavy-follows",
                    settings.users_url,
                    http,
                    credential,
                    app.state.metrics,
                    HEAVY_FOLLOWS_POLICY,
                    resilient=settings.resilience == "on",
                ),
                app.state.metrics,
                settings.heavy_follows_fresh_s,
                settings.heavy_follows_max_ids,
                resilient=settings.resilience == "on",
            )
            app.state.timelines = HomePages(timelines, heavy)
            config = ConsumerConfig(
                stream=POST_EVENTS_STREAM,
                group=CONSUMER_GROUP,
                # One consumer per replica: replicas share their service name.
                consumer=instance_name(settings.service_name),
                batch=settings.fanout_batch,
                claim_idle_ms=settings.fanout_claim_idle_ms,
            )
            app.state.consumer = StreamConsumer(app.state.redis, config, FanOut(timelines, users))
            task = asyncio.create_task(app.state.consumer.run(), name="fan-out")
            try:
                yield
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                await heavy.close()

    return build_service_app(
        settings,
        title="Chirp timeline",
        description="Home timelines, built by fan-out on write from the post stream.",
        routers=[router],
        lifespan=lifespan,
    )
