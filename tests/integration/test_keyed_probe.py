"""A write that becomes its dependency's half-open probe: the writer does not wait for it. Past
the probe patience it is answered 202 from the outbox while the probe goes on and reaches the
service; the outbox then delivers it again under the same idempotency key, and the service
applies it once. Real posts, dms and redis-server processes (posts or dms held with SIGSTOP
while the probe is sent); the gateway's writer runs in process."""

import asyncio
import signal
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
import redis
from starlette.responses import Response

from services.common.auth import ServiceCredential, TokenKeys, User, issue_user_token
from services.common.breaker import BreakerConfig
from services.common.downstream import PROBE_PATIENCE_S, Downstream, open_http_client
from services.common.metrics import ServiceMetrics
from services.common.policy import EdgePolicy
from services.common.redis_store import connect_redis
from services.common.retry import RetryPolicy
from services.common.wire import conversation_id
from services.gateway.degraded import Degradations
from services.gateway.idempotency import GatewayKeys
from services.gateway.outbox import Outbox, PostIds
from services.gateway.settings import GatewaySettings
from services.gateway.writes import DmWriter, PostWriter, pending_key, pending_key_of
from stack.layout import free_layout
from stack.local import LocalStack

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

# The probe may take its time (the service is held for a moment); the breaker opens at once and
# lets a probe through soon after.
PROBING = EdgePolicy(
    read_timeout_s=5.0,
    deadline_s=6.0,
    retry=RetryPolicy(attempts=1),
    breaker=BreakerConfig(fail_max=1, reset_timeout_s=0.2),
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """redis-server, posts and dms of this module's own."""
    local = LocalStack(Path(tmp_path_factory.mktemp("keyed-probe")), free_layout())
    try:
        local.start_redis()
        for name in ("posts", "dms"):
            local.start_service(name)
        for name in ("posts", "dms"):
            local.wait_ready(name)
        yield local
    finally:
        local.down()


@pytest.fixture
def store(stack: LocalStack) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(stack.layout.redis_url, decode_responses=True)
    try:
        yield client
    finally:
        client.close()


@dataclass
class Edge:
    service: Downstream
    outbox: Outbox
    keys: TokenKeys
    metrics: ServiceMetrics


@pytest.fixture
async def edge(stack: LocalStack, request: pytest.FixtureRequest) -> AsyncIterator[Edge]:
    """The gateway's edge to one service (the test's parameter), as the gateway builds it."""
    name: str = request.param
    layout = stack.layout
    keys = TokenKeys(layout.token_secret, layout.internal_secret)
    metrics = ServiceMetrics("gateway")
    client = connect_redis(GatewaySettings(redis_url=layout.redis_url), metrics)
    http = open_http_client()
    credential = ServiceCredential(keys, "gateway")
    service = Downstream(name, layout.url(name), http, credential, metrics, PROBING)
    outbox = Outbox(client, f"{name}-test-{uuid.uuid4().hex}", metrics)
    try:
        yield Edge(service, outbox, keys, metrics)
    finally:
        await http.aclose()
        await client.delete(outbox.stream)
        await client.aclose()
        await client.connection_pool.disconnect()


async def held_while_probing(
    stack: LocalStack, edge: Edge, write: Callable[[], Awaitable[Response]]
) -> tuple[Response, float]:
    """Open the edge's breaker, wait until the next call is its probe, then make the write with
    the service held (SIGSTOP) and let it go on once the writer has its answer."""
    edge.service.breaker.force_open()
    await asyncio.sleep(PROBING.breaker.reset_timeout_s + 0.05)
    loop = asyncio.get_running_loop()
    stack.send_signal(edge.service.name, signal.SIGSTOP)
    try:
        started = loop.time()
        answer = await write()
        waited = loop.time() - started
    finally:
        stack.send_signal(edge.service.name, signal.SIGCONT)
    for _ in range(100):  # the probe reaches the service and closes the breaker
        if edge.service.breaker.state == "closed":
            break
        await asyncio.sleep(0.05)
    assert edge.service.breaker.state == "closed"
    return answer, waited


def member() -> User:
    return User(uuid.uuid4().int % 10**9 + 10**9, f"probe_{uuid.uuid4().hex[:12]}")


@pytest.mark.parametrize("edge", ["posts"], indirect=True)
async def test_a_post_answered_from_the_outbox_while_its_probe_ran_on_is_applied_once(
    stack: LocalStack, edge: Edge, store: redis.Redis
) -> None:
    redis_client = edge.outbox.redis
    writer = PostWriter(
        edge.service, edge.outbox, PostIds(redis_client), GatewayKeys(redis_client, "posts"),
        Degradations(edge.metrics), resilient=True,
    )  # fmt: skip
    author = member()
    token = issue_user_token(edge.keys, author)
    key = f"probe-{uuid.uuid4()}"

    answer, waited = await held_while_probing(
        stack, edge, lambda: writer.create(author, token, "sent while probing", key)
    )
    assert answer.status_code == 202
    # The probe patience (and the outbox write), far from the probe's own timeout.
    assert waited < PROBE_PATIENCE_S + 1.0 < PROBING.read_timeout_s
    promised = orjson.loads(answer.body)["id"]
    # The probe reached posts and created the post; the outbox holds the same write.
    assert store.zrange(f"posts:user:{author.id}", 0, -1) == [str(promised)]
    ((_, entry),) = await edge.outbox.oldest(10)
    assert int(entry["id"]) == promised and entry["key"] == key

    await writer.deliver(entry)  # what the drainer does, with the same key
    assert store.zrange(f"posts:user:{author.id}", 0, -1) == [str(promised)]
    assert orjson.loads(store.get(f"posts:{promised}") or "{}")["text"] == "sent while probing"


@pytest.mark.parametrize("edge", ["dms"], indirect=True)
async def test_a_dm_answered_from_the_outbox_while_its_probe_ran_on_is_applied_once(
    stack: LocalStack, edge: Edge, store: redis.Redis
) -> None:
    redis_client = edge.outbox.redis
    writer = DmWriter(
        edge.service, edge.outbox, GatewayKeys(redis_client, "dms"), Degradations(edge.metrics),
        resilient=True,
    )  # fmt: skip
    sender, peer = member(), member()
    token = issue_user_token(edge.keys, sender)
    cid = conversation_id(sender.id, peer.id)

    answer, waited = await held_while_probing(
        stack, edge, lambda: writer.send(sender, token, peer.id, "sent while probing", None)
    )
    assert answer.status_code == 202 and waited < PROBE_PATIENCE_S + 1.0
    assert store.zcard(f"dms:conv:{cid}:msgs") == 1  # the probe's, seq 1
    ((entry_id, entry),) = await edge.outbox.oldest(10)
    assert entry["key"].startswith("gw-")  # the key the gateway made up for it

    await writer.deliver(entry)
    await edge.outbox.done(entry_id, pending_key_of(entry))
    messages: list[tuple[str, float]] = store.zrange(  # type: ignore[assignment]
        f"dms:conv:{cid}:msgs", 0, -1, withscores=True
    )
    assert [(orjson.loads(m)["text"], seq) for m, seq in messages] == [("sent while probing", 1)]
    assert not store.exists(pending_key(cid))
