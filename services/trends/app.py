"""The trends service app: counts hashtags from the post stream and serves the top ones."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
from fastapi import FastAPI

from services.common.instance import instance_name
from services.common.service_app import build_service_app
from services.common.settings import settings_from_environment
from services.common.stream_consumer import ConsumerConfig, StreamConsumer
from services.common.wire import POST_EVENTS_STREAM
from services.trends.board import TrendBoard
from services.trends.routes import router
from services.trends.settings import TrendsSettings
from services.trends.store import TrendCounts, hashtags

CONSUMER_GROUP = "trends"


def create_app(settings: TrendsSettings | None = None) -> FastAPI:
    settings = settings or settings_from_environment(TrendsSettings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        counts = TrendCounts(app.state.redis)
        app.state.board = TrendBoard(counts, settings.window_minutes, settings.top)

        async def count_post(_: str, fields: dict[str, str]) -> None:
            post = orjson.loads(fields["post"])
            await counts.count(int(post["id"]), int(post["created_ms"]), hashtags(post["text"]))

        # One consumer per replica: replicas share their service name.
        consumer = instance_name(settings.service_name)
        config = ConsumerConfig(POST_EVENTS_STREAM, CONSUMER_GROUP, consumer)
        app.state.consumer = StreamConsumer(app.state.redis, config, count_post)
        task = asyncio.create_task(app.state.consumer.run(), name="trend-counter")
        try:
            yield
        finally:
            await app.state.board.close()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return build_service_app(
        settings,
        title="Chirp trends",
        description="Hashtag counts over the last hour, from the post stream.",
        routers=[router],
        lifespan=lifespan,
    )
