"""Timeline replicas discovered by name (services.gateway.discovery), with an in-process resolver:
replicas come and go with the name's addresses, each with a breaker of its own named after its
task's slot; a name without addresses leaves the timeline unavailable (degraded answers, never
a 500); a resolver that fails or hangs keeps what is known and never holds up a request."""

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from services.common.auth import ServiceCredential, TokenKeys, User, issue_user_token
from services.common.breaker import OPEN
from services.common.downstream import Downstream
from services.common.errors import DependencyUnavailable
from services.common.metrics import ServiceMetrics
from services.common.replicas import ReplicaSet
from services.gateway.app import create_app
from services.gateway.backends import Backends
from services.gateway.discovery import (
    SOONEST_S,
    DiscoveryName,
    LookupFailed,
    ReplicaDiscovery,
    replica_name,
    url_of,
)
from services.gateway.policies import POLICIES
from services.gateway.settings import GatewaySettings
from services.gateway.wiring import run_gateway
from tests.unit.test_gateway import POST, FakeServices, MemoryRedis

pytestmark = pytest.mark.anyio

NAME = DiscoveryName("tasks.timeline", 8000)
PAGE: dict[str, object] = {"items": [], "next": None}


class FakeResolver:
    """Answers from `answers` (a list of addresses, or an exception to raise) and `names`
    (reverse lookups); `hang` makes every lookup wait forever."""

    def __init__(self) -> None:
        self.answers: list[str] | Exception = []
        self.names: dict[str, str] = {}
        self.hang = False
        self.asked: list[str] = []

    async def addresses(self, host: str, port: int) -> list[str]:
        self.asked.append(f"{host}:{port}")
        if self.hang:
            await asyncio.Event().wait()
        if isinstance(self.answers, Exception):
            raise self.answers
        return list(self.answers)

    async def name_of(self, address: str) -> str | None:
        return self.names.get(address)

    def close(self) -> None:
        pass


def task(slot: int, task_id: str = "k3j2h1g0f9e8d7c6b5a4") -> str:
    """A task's name as Docker answers a reverse lookup on a stack's overlay network."""
    return f"failwhale_timeline.{slot}.{task_id}.chirp"


@pytest.fixture
def resolver() -> FakeResolver:
    return FakeResolver()


@pytest.fixture
def metrics() -> ServiceMetrics:
    return ServiceMetrics("gateway")


@pytest.fixture
def services() -> FakeServices:
    return FakeServices()


@pytest.fixture
async def http(services: FakeServices) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(services)) as client:
        yield client


@pytest.fixture
def make(
    http: httpx.AsyncClient, keys: TokenKeys, metrics: ServiceMetrics
) -> Callable[[str, str], Downstream]:
    credential = ServiceCredential(keys, "gateway")

    def downstream(name: str, url: str) -> Downstream:
        return Downstream(name, url, http, credential, metrics, POLICIES["timeline"])

    return downstream


@pytest.fixture
def discovery(resolver: FakeResolver, make: Callable[[str, str], Downstream]) -> ReplicaDiscovery:
    timeline = ReplicaSet.empty("timeline", resilient=True)
    return ReplicaDiscovery(NAME, timeline, make, resolver, interval_s=0.01, lookup_timeout_s=0.2)


def names(discovery: ReplicaDiscovery) -> list[str]:
    return [replica.name for replica in discovery.replicas.replicas]


def answering(services: FakeServices, *addresses: str) -> None:
    for address in addresses:
        services.answers[address] = lambda _: httpx.Response(200, json=PAGE)


@pytest.mark.parametrize(
    ("host_name", "expected"),
    [
        (task(1), "timeline-1"),
        (task(2), "timeline-2"),
        ("fw-h1_timeline.12.0abc9.fw-h1_chirp", "timeline-12"),
        ("timeline.3.0abc9", "timeline-3"),
        ("localhost", "10.0.1.7"),
        ("failwhale_posts.1.0abc9.chirp", "10.0.1.7"),
        ("failwhale_timelines.1.0abc9.chirp", "10.0.1.7"),
        ("failwhale_timeline.one.0abc9.chirp", "10.0.1.7"),
        (None, "10.0.1.7"),
    ],
)
def test_a_replica_is_named_for_its_task_slot_or_else_its_address(
    host_name: str | None, expected: str
) -> None:
    assert replica_name("timeline", host_name, "10.0.1.7") == expected


def test_a_discovery_name_is_host_and_port() -> None:
    assert DiscoveryName.parse("tasks.timeline:8000") == NAME
    assert DiscoveryName.parse("[::1]:8000") == DiscoveryName("::1", 8000)
    assert url_of("::1", 8000) == "http://[::1]:8000"
    for bad in ("tasks.timeline", ":8000", "tasks.timeline:http", "tasks.timeline:70000"):
        with pytest.raises(ValueError, match="host:port"):
            DiscoveryName.parse(bad)


def test_the_gateway_refuses_a_discovery_name_without_a_port(keys: TokenKeys) -> None:
    def settings(discovery: str) -> GatewaySettings:
        return GatewaySettings(
            token_secret=keys.user_secret,
            internal_secret=keys.internal_secret,
            timeline_discovery=discovery,
        )

    with pytest.raises(ValidationError, match="host:port"):
        settings("tasks.timeline")
    assert settings("").timeline_discovery == ""
    assert settings(" tasks.timeline:8000 ").timeline_discovery == "tasks.timeline:8000"


async def test_replicas_come_with_their_addresses_each_with_its_own_breaker(
    discovery: ReplicaDiscovery, resolver: FakeResolver, services: FakeServices
) -> None:
    resolver.answers = ["10.0.1.8", "10.0.1.7"]
    resolver.names = {"10.0.1.7": task(1), "10.0.1.8": task(2, "0ff1ce")}
    answering(services, "10.0.1.7", "10.0.1.8")
    await discovery.refresh()
    assert names(discovery) == ["timeline-1", "timeline-2"]
    first, second = discovery.replicas.replicas
    assert first.base_url == "http://10.0.1.7:8000"
    assert first.breaker is not second.breaker
    for _ in range(4):
        await discovery.replicas.request("GET", "/internal/timeline")
    assert services.hosts() == ["10.0.1.7", "10.0.1.8"] * 2


async def test_a_replica_that_goes_is_dropped_and_its_successor_takes_its_name_afresh(
    discovery: ReplicaDiscovery,
    resolver: FakeResolver,
    services: FakeServices,
    metrics: ServiceMetrics,
) -> None:
    resolver.answers = ["10.0.1.7", "10.0.1.8"]
    resolver.names = {"10.0.1.7": task(1), "10.0.1.8": task(2), "10.0.1.9": task(1, "0new")}
    answering(services, "10.0.1.7", "10.0.1.8", "10.0.1.9")
    await discovery.refresh()
    gone = discovery.replicas.replicas[0]
    gone.breaker.force_open()

    def gauge(dependency: str) -> float | None:
        labels = {"service": "gateway", "dependency": dependency}
        return metrics.registry.get_sample_value("failwhale_breaker_state", labels)

    assert gauge("timeline-1") == 2
    resolver.answers = ["10.0.1.8"]
    await discovery.refresh()
    assert names(discovery) == ["timeline-2"]
    assert gauge("timeline-1") is None  # no ghost of an open breaker in /metrics
    for _ in range(3):
        await discovery.replicas.request("GET", "/internal/timeline")
    assert "10.0.1.7" not in services.hosts()
    # The task's replacement: a new address in the same slot, a new breaker, closed.
    resolver.answers = ["10.0.1.9", "10.0.1.8"]
    await discovery.refresh()
    assert names(discovery) == ["timeline-1", "timeline-2"]
    successor = discovery.replicas.replicas[0]
    assert successor.base_url == "http://10.0.1.9:8000"
    assert successor.breaker.state == "closed"
    assert gauge("timeline-1") == 0
    # The old replica's late breaker changes no longer speak for the name.
    gone.breaker.force_open()
    assert gauge("timeline-1") == 0


async def test_a_replica_known_already_keeps_its_breaker(
    discovery: ReplicaDiscovery, resolver: FakeResolver
) -> None:
    resolver.answers = ["10.0.1.7"]
    await discovery.refresh()
    kept = discovery.replicas.replicas[0]
    kept.breaker.force_open()
    resolver.answers = ["10.0.1.7", "10.0.1.8"]
    await discovery.refresh()
    assert discovery.known["10.0.1.7"] is kept
    assert kept.breaker.state == OPEN


async def test_two_tasks_of_one_slot_at_once_get_distinct_names(
    discovery: ReplicaDiscovery, resolver: FakeResolver
) -> None:
    resolver.answers = ["10.0.1.7", "10.0.1.9"]
    resolver.names = {"10.0.1.7": task(1), "10.0.1.9": task(1, "0new")}
    await discovery.refresh()
    assert sorted(names(discovery)) == ["10.0.1.9", "timeline-1"]


async def test_a_name_without_addresses_leaves_no_replica_and_calls_fail_at_once(
    discovery: ReplicaDiscovery, resolver: FakeResolver, services: FakeServices
) -> None:
    resolver.answers = ["10.0.1.7"]
    await discovery.refresh()
    resolver.answers = []
    await discovery.refresh()
    assert discovery.replicas.replicas == []
    with pytest.raises(DependencyUnavailable, match="no replica of timeline is known"):
        await discovery.replicas.request("GET", "/internal/timeline")
    assert services.calls == []


@pytest.mark.parametrize("failure", ["error", "hang"])
async def test_a_failed_lookup_keeps_the_replicas_known(
    discovery: ReplicaDiscovery, resolver: FakeResolver, failure: str
) -> None:
    resolver.answers = ["10.0.1.7", "10.0.1.8"]
    await discovery.refresh()
    if failure == "error":
        resolver.answers = LookupFailed("SERVFAIL")
    else:
        resolver.hang = True
    async with asyncio.timeout(2):  # bounded by the lookup timeout (0.2 s), not the resolver
        await discovery.refresh()
    assert names(discovery) == ["10.0.1.7", "10.0.1.8"]
    assert discovery.last_error


async def test_a_hung_resolver_never_holds_up_a_request(
    discovery: ReplicaDiscovery, resolver: FakeResolver, services: FakeServices
) -> None:
    resolver.answers = ["10.0.1.7"]
    answering(services, "10.0.1.7")
    await discovery.refresh()
    resolver.hang = True
    looking = asyncio.create_task(discovery.run())
    try:
        await asyncio.sleep(0.05)  # a lookup is under way, and hangs
        async with asyncio.timeout(1):
            answer = await discovery.replicas.request("GET", "/internal/timeline")
        assert answer.json() == PAGE
    finally:
        looking.cancel()
    assert len(resolver.asked) >= 2


async def test_discovery_goes_on_after_a_bug_in_one_refresh(
    discovery: ReplicaDiscovery, resolver: FakeResolver
) -> None:
    resolver.answers = RuntimeError("a bug")
    looking = asyncio.create_task(discovery.run())
    try:
        await asyncio.sleep(0.05)
        assert not looking.done()
        resolver.answers = ["10.0.1.7"]
        await asyncio.sleep(0.1)  # ten intervals
        assert names(discovery) == ["10.0.1.7"]
    finally:
        looking.cancel()


async def test_calls_that_find_no_replica_answering_have_the_name_looked_up_again_soon(
    resolver: FakeResolver, make: Callable[[str, str], Downstream], services: FakeServices
) -> None:
    """Both tasks replaced at once (a forced update): the next lookup is not left to the
    interval, and the failing calls ask for one lookup at a time, not one each."""
    timeline = ReplicaSet.empty("timeline", resilient=True)
    slow = ReplicaDiscovery(NAME, timeline, make, resolver, interval_s=30.0)
    resolver.answers = ["10.0.1.7"]
    services.answers["10.0.1.7"] = lambda _: httpx.Response(503)
    answering(services, "10.0.2.7")
    await slow.refresh()
    started = time.monotonic()
    looking = asyncio.create_task(slow.run())
    try:
        resolver.answers = ["10.0.2.7"]  # the successor answers the name already
        for _ in range(20):
            with pytest.raises(DependencyUnavailable):
                await timeline.request("GET", "/internal/timeline")
        async with asyncio.timeout(5):  # well before the 30 s interval
            while names(slow) != ["10.0.2.7"]:  # noqa: ASYNC110 (polls the background task)
                await asyncio.sleep(0.02)
        answer = await timeline.request("GET", "/internal/timeline")
        assert answer.json() == PAGE
        # The first, then at most one per SOONEST_S however many calls failed (twenty here).
        elapsed_s = time.monotonic() - started
        assert 2 <= slow.lookups <= 2 + elapsed_s / SOONEST_S
    finally:
        looking.cancel()


# The gateway with discovered replicas: status names them, and no replica is a degraded answer.


@pytest.fixture
async def gateway(
    keys: TokenKeys,
    services: FakeServices,
    http: httpx.AsyncClient,
    discovery: ReplicaDiscovery,
) -> AsyncIterator[httpx.AsyncClient]:
    settings = GatewaySettings(
        token_secret=keys.user_secret,
        internal_secret=keys.internal_secret,
        timeline_discovery="tasks.timeline:8000",
    )
    app: FastAPI = create_app(settings)
    metrics = app.state.metrics
    app.state.redis = MemoryRedis()
    credential = ServiceCredential(app.state.token_keys, "gateway")

    def downstream(name: str, policy: str = "") -> Downstream:
        edge = POLICIES[policy or name]
        return Downstream(name, f"http://{name}", http, credential, metrics, edge)

    backends = Backends(
        users=downstream("users"),
        posts=downstream("posts"),
        timeline=discovery.replicas,
        dms=downstream("dms"),
        trends=downstream("trends"),
        logins=downstream("users-logins", "logins"),
        discovery=discovery,
    )
    async with run_gateway(settings, backends, app.state.redis, metrics) as running:
        app.state.backends = backends
        app.state.gateway = running
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            yield client


@pytest.fixture
def alice(keys: TokenKeys) -> dict[str, str]:
    return {"Authorization": "Bearer " + issue_user_token(keys, User(1, "alice"))}


async def test_status_names_the_discovered_replicas_by_slot(
    gateway: httpx.AsyncClient, discovery: ReplicaDiscovery, resolver: FakeResolver
) -> None:
    resolver.answers = ["10.0.1.7", "10.0.1.8"]
    resolver.names = {"10.0.1.7": task(1), "10.0.1.8": task(2)}
    await discovery.refresh()
    status = (await gateway.get("/v1/status")).json()
    listed = [d["name"] for d in status["dependencies"]]
    assert listed == ["users", "posts", "timeline-1", "timeline-2", "dms", "trends",
                      "users-logins", "redis"]  # fmt: skip
    assert status["timeline_discovery"]["replicas"] == {
        "timeline-1": "10.0.1.7",
        "timeline-2": "10.0.1.8",
    }
    assert status["timeline_discovery"]["name"] == "tasks.timeline:8000"
    assert status["instance"].startswith("gateway@")


async def test_with_no_replica_known_a_timeline_read_is_degraded_not_an_error(
    gateway: httpx.AsyncClient,
    discovery: ReplicaDiscovery,
    services: FakeServices,
    alice: dict[str, str],
) -> None:
    services.answers["users"] = lambda _: httpx.Response(200, json={"items": []})
    services.answers["posts"] = lambda _: httpx.Response(200, json={"items": [POST], "next": None})
    await discovery.refresh()  # the name has no address
    answer = await gateway.get("/v1/timeline?limit=5", headers=alice)
    assert answer.status_code == 200
    assert answer.headers["x-degraded"] == "timeline=fanout-on-read"
    assert answer.json()["items"] == [POST]
    status = (await gateway.get("/v1/status")).json()
    assert not any(d["name"].startswith("timeline") for d in status["dependencies"])
