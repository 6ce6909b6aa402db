"""Two gateway replicas' drainers on one outbox in a real redis-server: one delivers while the
other stands by, each entry once and in order; a leader that stalls past its lease is taken
over and stops before its next delivery; a leader that shuts down hands over at once."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from services.common.metrics import ServiceMetrics
from services.common.redis_store import GuardedRedis, connect_redis
from services.gateway.drainer import Drainer, hand_over
from services.gateway.lease import Lease
from services.gateway.outbox import Outbox
from services.gateway.settings import GatewaySettings
from stack.layout import LocalLayout
from tests.integration.own_stack import own_redis

pytestmark = [pytest.mark.integration, pytest.mark.anyio]
# Long enough that a busy machine's pauses never cost the leader its lease: the tests that need
# it to lapse or go say so, and wait for it.
LEASE_S = 3.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalLayout]:
    """A redis-server of this module's own (the drainers run in process)."""
    with own_redis(tmp_path_factory.mktemp("replicas-outbox")) as layout:
        yield layout


@contextlib.asynccontextmanager
async def gateway_redis(layout: LocalLayout) -> AsyncIterator[GuardedRedis]:
    """The gateway's Redis client, opened and closed inside the test's own event loop (an async
    fixture may be set up and torn down by another loop than the test's, whose connections then
    never answer)."""
    client = connect_redis(GatewaySettings(redis_url=layout.redis_url), ServiceMetrics("gateway"))
    await client.flushdb()
    try:
        yield client
    finally:
        await client.aclose()
        await client.connection_pool.disconnect()


class Replica:
    """One gateway replica's drainer of the `posts` outbox; its deliveries go to `delivered`
    as (replica, entry key), each taking `pause_s`; `stall` holds the next delivery."""

    def __init__(self, name: str, redis: GuardedRedis, delivered: list[tuple[str, str]]) -> None:
        self.name = name
        self.delivered = delivered
        self.pause_s = 0.01
        self.stall: asyncio.Event | None = None
        self.stalled = asyncio.Event()
        outbox = Outbox(redis, "posts", ServiceMetrics("gateway"))
        lease = Lease(redis, f"{outbox.stream}:lease", f"gateway@{name}:1", LEASE_S)
        self.drainer = Drainer(outbox, self.deliver, lease)
        self.drainer.IDLE_S = 0.02
        self.task: asyncio.Task[None] | None = None

    async def deliver(self, entry: dict[str, str]) -> None:
        if self.stall is not None:
            self.stalled.set()
            await self.stall.wait()
            self.stall = None
        await asyncio.sleep(self.pause_s)
        self.delivered.append((self.name, entry["key"]))

    def start(self) -> None:
        self.task = asyncio.create_task(self.drainer.supervise())

    async def stop(self) -> None:
        """As the gateway stops: its drainer's task ends, then it hands its lease over."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            await hand_over(self.drainer)
            self.task = None


@contextlib.asynccontextmanager
async def replicas(redis: GuardedRedis, *names: str) -> AsyncIterator[list[Replica]]:
    delivered: list[tuple[str, str]] = []
    running = [Replica(name, redis, delivered) for name in names]
    try:
        yield running
    finally:
        for replica in running:
            await replica.stop()


async def fill(redis: GuardedRedis, count: int) -> list[str]:
    outbox = Outbox(redis, "posts", ServiceMetrics("gateway"))
    keys = [f"k{i:03d}" for i in range(count)]
    for key in keys:
        await outbox.add({"id": "1", "author_id": "1", "author": "a", "text": "t", "key": key})
    return keys


async def until(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():  # noqa: ASYNC110 (polls state other tasks change)
            await asyncio.sleep(0.01)


async def test_one_replica_delivers_each_entry_once_in_order_while_the_other_stands_by(
    layout: LocalLayout,
) -> None:
    async with gateway_redis(layout) as redis:
        keys = await fill(redis, 40)
        async with replicas(redis, "a", "b") as (a, b):
            a.start()
            await until(lambda: a.drainer.lease.held)
            b.start()
            await until(lambda: len(a.delivered) >= len(keys))  # both replicas' deliveries
            await asyncio.sleep(0.2)  # time for a second delivery of anything, if there were one
            assert a.delivered == [("a", key) for key in keys]
            assert not b.drainer.lease.held
            assert b.drainer.running  # standing by is not a failure: /readyz stays ready
            assert await redis.xlen("gw:outbox:posts") == 0


async def test_a_leader_stalled_past_its_lease_is_taken_over_and_stops_before_its_next_delivery(
    layout: LocalLayout,
) -> None:
    async with gateway_redis(layout) as redis:
        keys = await fill(redis, 10)
        async with replicas(redis, "a", "b") as (a, b):
            a.stall = asyncio.Event()
            a.start()
            await until(a.stalled.is_set)  # a holds the lease, and is stuck on the first entry
            b.start()
            await until(lambda: len(a.delivered) >= len(keys), timeout_s=LEASE_S * 10)
            a.stall.set()  # a wakes up: it finishes the delivery it was in, and no other
            await asyncio.sleep(LEASE_S)
            delivered = a.delivered  # both replicas' deliveries, in the order they were made
            firsts = list(dict.fromkeys(key for _, key in delivered))
            assert firsts == keys  # every entry, in order
            assert [r for r, _ in delivered if r == "a"] == ["a"]
            assert delivered[-1] == ("a", keys[0])  # a repeat, which its key makes harmless
            assert b.drainer.lease.held and not a.drainer.lease.held


async def test_a_leader_that_shuts_down_hands_over_at_once(layout: LocalLayout) -> None:
    async with gateway_redis(layout) as redis, replicas(redis, "a", "b") as (a, b):
        a.start()
        await until(lambda: a.drainer.lease.held)
        b.start()
        await asyncio.sleep(0.1)
        assert not b.drainer.lease.held
        await a.stop()
        keys = await fill(redis, 3)
        # Well within the lease's lifetime: a gave it up when it stopped.
        await until(lambda: len(b.delivered) == len(keys), timeout_s=LEASE_S / 2)
        assert b.delivered == [("b", key) for key in keys]
