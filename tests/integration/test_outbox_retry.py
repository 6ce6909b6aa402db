"""A post the gateway accepted into its outbox, whose answer was lost on the way (Redis applied
the XADD, the gateway never heard back, the client got a 503) and that the client then sent
again with the same Idempotency-Key while posts was still away: the 202 of the retry must name
the post that will be delivered. Real Redis; posts refuses every connection."""

import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import orjson
import pytest
from redis.exceptions import TimeoutError as RedisTimeout

from services.common.auth import ServiceCredential, TokenKeys, User
from services.common.downstream import Downstream
from services.common.errors import Unprocessable
from services.common.metrics import ServiceMetrics
from services.common.redis_store import GuardedRedis, connect_redis
from services.gateway.degraded import Degradations
from services.gateway.idempotency import GatewayKeys
from services.gateway.outbox import Outbox, PostIds
from services.gateway.settings import GatewaySettings
from services.gateway.writes import PostWriter
from tests.integration.own_stack import own_redis

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A redis-server of this module's own (no services: the gateway's parts run in process)."""
    with own_redis(tmp_path_factory.mktemp("outbox-retry")) as layout:
        yield layout.redis_url


class AnswerLostOnce(Outbox):
    """An outbox whose first XADD is applied by Redis but answered too late for the gateway."""

    lost = False

    async def add(self, fields: dict[str, str], pending_key: str | None = None) -> None:
        await super().add(fields, pending_key)
        if not self.lost:
            self.lost = True
            raise RedisTimeout("Timeout reading from socket")


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[GuardedRedis]:
    client = connect_redis(GatewaySettings(redis_url=redis_url), ServiceMetrics("gateway"))
    try:
        yield client
    finally:
        await client.aclose()
        await client.connection_pool.disconnect()  # the client does not own the pool it was given


def refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


@pytest.fixture
async def writer(redis: GuardedRedis) -> AsyncIterator[PostWriter]:
    """The gateway's post writer with posts away and an outbox whose first answer is lost."""
    metrics = ServiceMetrics("gateway")
    keys = TokenKeys("u" * 64, "i" * 64)
    async with httpx.AsyncClient(transport=httpx.MockTransport(refused)) as client:
        posts = Downstream(
            "posts", "http://posts", client, ServiceCredential(keys, "gateway"), metrics
        )
        # A stream of this test's own: no gateway drains it.
        outbox = AnswerLostOnce(redis, f"posts-test-{uuid.uuid4().hex}", metrics)
        try:
            yield PostWriter(
                posts, outbox, PostIds(redis), GatewayKeys(redis, "posts"),
                Degradations(metrics), resilient=True,
            )  # fmt: skip
        finally:
            await redis.delete(outbox.stream)


AUTHOR = User(id=424242, handle="outbox_retry")


async def test_a_post_retried_after_its_outbox_answer_was_lost_keeps_the_id_it_is_delivered_under(
    writer: PostWriter,
) -> None:
    key = f"retry-{uuid.uuid4()}"
    with pytest.raises(RedisTimeout):
        await writer.create(AUTHOR, "token", "sent twice", key)
    retried = await writer.create(AUTHOR, "token", "sent twice", key)
    entries = [fields for _, fields in await writer.outbox.oldest(10)]

    assert retried.status_code == 202
    promised = orjson.loads(retried.body)["id"]
    # The drain delivers the first entry and replays the key for the others: every entry must
    # carry the id the client was given, or the post it holds never exists.
    assert [int(e["id"]) for e in entries] == [promised, promised]
    assert {e["key"] for e in entries} == {key}


async def test_the_same_key_with_another_body_after_a_lost_answer_is_refused(
    writer: PostWriter,
) -> None:
    key = f"retry-{uuid.uuid4()}"
    with pytest.raises(RedisTimeout):
        await writer.create(AUTHOR, "token", "the first body", key)
    with pytest.raises(Unprocessable):
        await writer.create(AUTHOR, "token", "another body", key)
    assert len(await writer.outbox.oldest(10)) == 1
