"""The gateway's outbox against a real redis-server: no step is counted twice when an answer is
lost on the way back, a conversation's pending count never keeps its DMs in the outbox, and the
outbox and its side keys stay bounded."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import redis
from redis.exceptions import ConnectionError as RedisConnectionError

from services.common.auth import ServiceCredential, TokenKeys, User
from services.common.downstream import Downstream
from services.common.errors import Conflict, DependencyUnavailable
from services.common.metrics import ServiceMetrics
from services.common.redis_store import GuardedRedis, connect_redis
from services.gateway import outbox as outbox_module
from services.gateway.degraded import Degradations
from services.gateway.idempotency import GatewayKeys
from services.gateway.outbox import Outbox
from services.gateway.settings import GatewaySettings
from services.gateway.writes import DmWriter, pending_key
from stack.layout import LocalLayout
from tests.integration.own_stack import own_redis

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalLayout]:
    """A redis-server of this module's own (the gateway's parts run in process)."""
    with own_redis(tmp_path_factory.mktemp("outbox-redis")) as layout:
        yield layout


@pytest.fixture
def store(layout: LocalLayout) -> Iterator[redis.Redis]:
    """Redis read directly, to look behind the outbox."""
    client = redis.Redis.from_url(layout.redis_url, decode_responses=True)
    try:
        yield client
    finally:
        client.close()


class LosesOneAnswer:
    """A TCP relay in front of Redis. Once armed, it passes the next request on and then cuts
    the connection instead of passing its answer back: Redis ran the command, the client never
    hears so."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.armed = False
        self.cut = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(self.host, self.port)
        cutting = asyncio.Event()

        async def requests() -> None:
            while data := await reader.read(65536):
                if self.armed:
                    self.armed = False
                    cutting.set()
                up_writer.write(data)
                await up_writer.drain()

        async def answers() -> None:
            while data := await up_reader.read(65536):
                if cutting.is_set():
                    await asyncio.sleep(0.05)  # let Redis finish all it was sent
                    self.cut += 1
                    return
                writer.write(data)
                await writer.drain()

        sending = asyncio.create_task(requests())
        try:
            await answers()
        finally:
            sending.cancel()
            writer.close()
            up_writer.close()


@pytest.fixture
async def relay(layout: LocalLayout) -> AsyncIterator[tuple[LosesOneAnswer, str]]:
    relay = LosesOneAnswer(layout.host, layout.redis_port)
    port = await relay.start()
    url = f"redis://:{layout.redis_password}@127.0.0.1:{port}/0"
    try:
        yield relay, url
    finally:
        await relay.stop()


@contextlib.asynccontextmanager
async def gateway_redis(url: str) -> AsyncIterator[GuardedRedis]:
    client = connect_redis(GatewaySettings(redis_url=url), ServiceMetrics("gateway"))
    try:
        yield client
    finally:
        await client.aclose()
        await client.connection_pool.disconnect()


def conversation() -> tuple[str, str]:
    cid = f"{uuid.uuid4().int % 10**9}-{uuid.uuid4().int % 10**9 + 10**9}"
    return cid, pending_key(cid)


ENTRY = {"sender_id": "1", "sender": "a", "peer_id": "2", "text": "hi", "key": "k"}


async def test_an_answer_lost_after_an_entry_was_settled_never_counts_it_down_twice(
    relay: tuple[LosesOneAnswer, str], store: redis.Redis
) -> None:
    lossy, url = relay
    cid, pending = conversation()
    async with gateway_redis(url) as client:
        outbox = Outbox(client, f"dms-test-{uuid.uuid4().hex}", ServiceMetrics("gateway"))
        await outbox.add(ENTRY | {"conversation_id": cid}, pending_key=pending)
        ((entry_id, _),) = await outbox.oldest(10)
        await outbox.done("0-1")  # nothing there: loads what the next call needs
        lossy.armed = True
        with contextlib.suppress(RedisConnectionError):
            await outbox.done(entry_id, pending)
        assert lossy.cut == 1
        # Whatever the client did next, the entry was delivered once and counted down once.
        assert store.xlen(outbox.stream) == 0
        assert int(store.get(pending) or 0) == 0
        store.delete(outbox.stream)


async def test_a_conversation_counted_below_zero_still_sends_its_dms_directly(
    layout: LocalLayout, store: redis.Redis
) -> None:
    cid, pending = conversation()
    sender, peer = (int(part) for part in cid.split("-"))
    store.set(pending, -1)  # what the double count-down of an older gateway left behind
    sent = {"conversation_id": cid, "seq": 1, "sender": "a", "text": "hi", "sent_at": "now"}

    def dms(request: httpx.Request) -> httpx.Response:
        return httpx.Response(201, json=sent)

    metrics = ServiceMetrics("gateway")
    keys = TokenKeys("u" * 64, "i" * 64)
    async with (
        gateway_redis(layout.redis_url) as client,
        httpx.AsyncClient(transport=httpx.MockTransport(dms)) as http,
    ):
        service = Downstream("dms", "http://dms", http, ServiceCredential(keys, "gw"), metrics)
        outbox = Outbox(client, f"dms-test-{uuid.uuid4().hex}", metrics)
        writer = DmWriter(
            service, outbox, GatewayKeys(client, "dms"), Degradations(metrics), resilient=True
        )
        answer = await writer.send(User(sender, "a"), "token", peer, "hi", None)
        assert answer.status_code == 201
        assert store.xlen(outbox.stream) == 0


async def test_a_conversations_pending_count_goes_away_when_its_last_dm_is_delivered(
    layout: LocalLayout, store: redis.Redis
) -> None:
    cid, pending = conversation()
    async with gateway_redis(layout.redis_url) as client:
        outbox = Outbox(client, f"dms-test-{uuid.uuid4().hex}", ServiceMetrics("gateway"))
        for _ in range(2):
            await outbox.add(ENTRY | {"conversation_id": cid}, pending_key=pending)
        assert store.get(pending) == "2"
        for entry_id, _ in await outbox.oldest(10):
            await outbox.done(entry_id, pending)
        assert not store.exists(pending)  # no key left behind per conversation ever queued


async def test_an_outbox_at_its_bound_refuses_the_next_write_with_503_and_keeps_the_rest(
    layout: LocalLayout, store: redis.Redis
) -> None:
    cid, pending = conversation()
    async with gateway_redis(layout.redis_url) as client:
        outbox = Outbox(
            client, f"dms-test-{uuid.uuid4().hex}", ServiceMetrics("gateway"), max_entries=3
        )
        for _ in range(3):
            await outbox.add(ENTRY | {"conversation_id": cid}, pending_key=pending)
        with pytest.raises(DependencyUnavailable) as full:
            await outbox.add(ENTRY | {"conversation_id": cid}, pending_key=pending)
        assert full.value.status == 503 and "outbox is full" in full.value.detail
        assert store.xlen(outbox.stream) == 3 and store.get(pending) == "3"
        store.delete(outbox.stream, pending)


async def test_entries_refused_for_good_are_kept_aside_up_to_a_bound(
    layout: LocalLayout, store: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox_module, "MAX_REFUSED", 10)
    async with gateway_redis(layout.redis_url) as client:
        outbox = Outbox(client, f"posts-test-{uuid.uuid4().hex}", ServiceMetrics("gateway"))
        for index in range(600):
            await outbox.add({"text": f"refused {index}"})
        for entry_id, fields in await outbox.oldest(600):
            await outbox.done(entry_id, refused=fields)
        kept = store.xrange(outbox.refused_stream) or []
        # Trimmed to about the bound (Redis trims whole nodes of up to 100 entries), newest kept.
        assert 10 <= len(kept) <= 110
        assert kept[-1][1] == {"text": "refused 599"}
        assert store.xlen(outbox.stream) == 0
        store.delete(outbox.refused_stream)


async def test_a_request_that_outlives_its_key_guard_leaves_the_next_holders_guard(
    layout: LocalLayout, store: redis.Redis
) -> None:
    async with gateway_redis(layout.redis_url) as client:
        keys = GatewayKeys(client, "dms")
        key = f"slow-{uuid.uuid4().hex}"
        guard = keys._key("inflight", 7, key)
        async with keys.exclusive(7, key):
            with pytest.raises(Conflict):  # a concurrent request with the key
                async with keys.exclusive(7, key):
                    pass
            store.delete(guard)  # the guard expired while this request went on...
            store.set(guard, "another request's token", px=30_000)  # ...and another took it
        assert store.get(guard) == "another request's token"
        store.delete(guard)
        async with keys.exclusive(7, key):
            assert store.exists(guard)
        assert not store.exists(guard)  # a holder still removes its own guard
