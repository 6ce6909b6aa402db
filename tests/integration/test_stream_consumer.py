"""The stream consumer on a real Redis: an event its handler cannot take (a malformed record)
is set aside in the dead-letter stream and the events after it are still handled, while an
event whose handler meets an outage is retried, never set aside."""

import asyncio
import uuid
from collections.abc import Iterator

import pytest
import redis
import redis.asyncio as aioredis

from services.common.errors import DependencyUnavailable
from services.common.stream_consumer import ConsumerConfig, StreamConsumer
from stack.layout import LocalLayout
from tests.integration.own_stack import own_redis

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalLayout]:
    with own_redis(tmp_path_factory.mktemp("stream-redis")) as layout:
        yield layout


def consume(url: str, config: ConsumerConfig, handled: list[str], outages: int) -> int:
    """Runs a consumer until it has acknowledged 3 events; its dead-letter count."""

    async def handler(entry_id: str, fields: dict[str, str]) -> None:
        nonlocal outages
        if outages > 0:
            outages -= 1
            raise DependencyUnavailable("users", "away for a moment")
        handled.append(fields["post_id"])  # KeyError for a malformed record

    async def main() -> int:
        client = aioredis.Redis.from_url(url, decode_responses=True)
        consumer = StreamConsumer(client, config, handler)
        task = asyncio.create_task(consumer.run())
        try:
            for _ in range(500):  # 25 s at most
                if consumer.processed >= 3 or task.done():
                    break
                await asyncio.sleep(0.05)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await client.aclose()
        assert consumer.processed == 3, f"{consumer.processed} of 3 events acknowledged"
        return consumer.dead_letters

    return asyncio.run(asyncio.wait_for(main(), timeout=30))


def config() -> ConsumerConfig:
    stream = f"test-stream-{uuid.uuid4().hex}"
    return ConsumerConfig(stream, "group", "consumer-1", retry_initial_s=0.05)


def test_a_malformed_event_is_set_aside_and_the_next_ones_are_handled(layout: LocalLayout) -> None:
    store = redis.Redis.from_url(layout.redis_url, decode_responses=True)
    chosen = config()
    for fields in ({"post_id": "1"}, {"wrong": "x"}, {"post_id": "3"}):
        store.xadd(chosen.stream, fields)
    handled: list[str] = []
    assert consume(layout.redis_url, chosen, handled, outages=0) == 1
    assert handled == ["1", "3"]
    [(_, dead)] = store.xrange(chosen.dead_letter_stream)
    assert dead["wrong"] == "x" and "KeyError" in dead["dead_letter_error"]
    assert store.xpending(chosen.stream, "group")["pending"] == 0
    store.close()


def test_an_outage_is_retried_and_nothing_is_set_aside(layout: LocalLayout) -> None:
    store = redis.Redis.from_url(layout.redis_url, decode_responses=True)
    chosen = config()
    for n in ("1", "2", "3"):
        store.xadd(chosen.stream, {"post_id": n})
    handled: list[str] = []
    assert consume(layout.redis_url, chosen, handled, outages=2) == 0
    assert handled == ["1", "2", "3"]
    assert store.xlen(chosen.dead_letter_stream) == 0
    store.close()
