"""Services run as more than one replica, as real processes beside the shared stack on its Redis:
two timeline replicas under one service name, a second gateway with a second posts, and
gateways that discover their timeline replicas by name through the system's resolver."""

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import redis

from services.common.wire import POST_EVENTS_STREAM
from stack.layout import LocalLayout
from stack.local import HTTP_PROTOCOL, LocalStack
from tests.integration.chirp import Member, eventually, follow, post, sign_up, timeline_ids

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
READY_S = 60.0

Started = Callable[..., str]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# The replicas a test module started, by URL.
RUNNING: dict[str, subprocess.Popen[bytes]] = {}


@pytest.fixture(scope="module")
def start(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Started]:
    """Starts another replica of a service of the stack (with `like`'s settings, and any given)
    on a port of its own; every one still running is stopped when the module ends."""
    logs = tmp_path_factory.mktemp("replicas")

    def replica(package: str, like: str, **settings: str) -> str:
        port = free_port()
        env = os.environ | stack.layout.environment(like) | {"FAILWHALE_FAULT_HOOK": "off"}
        env |= settings | {"PYTHONPATH": str(ROOT)}
        command = [
            sys.executable, "-m", "uvicorn", f"services.{package}.app:create_app", "--factory",
            "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--http", HTTP_PROTOCOL,
        ]  # fmt: skip
        log = logs / f"{package}-{port}.log"
        with log.open("ab") as out:
            child = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        url = f"http://127.0.0.1:{port}"
        RUNNING[url] = child
        deadline = time.monotonic() + READY_S
        while True:
            try:
                httpx.get(url + "/readyz", timeout=1).raise_for_status()
                return url
            except httpx.HTTPError:
                assert child.poll() is None, log.read_text()[-3000:]
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.2)

    try:
        yield replica
    finally:
        for url in list(RUNNING):
            stop(url)


def stop(url: str, sig: signal.Signals = signal.SIGTERM) -> None:
    child = RUNNING.pop(url)
    os.killpg(child.pid, sig)
    try:
        child.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()


@contextmanager
def client(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=10) as api:
        yield api


# Stream consumers: replicas under one service name are members of their own.


@pytest.mark.parametrize("package", ["timeline", "trends"])
def test_two_replicas_under_one_service_name_are_two_consumers_of_the_stream(
    package: str, start: Started, store: redis.Redis, api: httpx.Client
) -> None:
    service = f"{package}-{uuid.uuid4().hex[:6]}"  # one service name, as an orchestrator gives
    for _ in range(2):
        start(package, "timeline-1" if package == "timeline" else package,
              FAILWHALE_SERVICE_NAME=service)  # fmt: skip

    def members() -> dict[str, dict[str, Any]]:
        found = store.xinfo_consumers(POST_EVENTS_STREAM, package)
        return {c["name"]: c for c in found if c["name"].startswith(service)}

    assert len(members()) == 2, members()
    assert all(name.startswith(f"{service}@") for name in members())
    # Both read and acknowledge events beside the stack's own members of the group.
    author, reader = sign_up(api), sign_up(api)
    follow(api, reader, author)
    created = [post(api, author, f"#fanned out by replicas {i}")["id"] for i in range(40)]
    eventually(lambda: timeline_ids(api, reader), lambda ids: set(created) <= set(ids))
    eventually(members, lambda found: all(c["pending"] == 0 for c in found.values()))


def test_events_a_dead_replica_read_are_claimed_by_its_live_namesake(
    start: Started, store: redis.Redis, api: httpx.Client, service_credential: dict[str, str]
) -> None:
    service = f"timeline-{uuid.uuid4().hex[:6]}"
    settings = {
        "FAILWHALE_SERVICE_NAME": service,
        # Sooner than the stack's own replicas (15 s): the live namesake is the one to claim.
        "FAILWHALE_TIMELINE_FANOUT_CLAIM_IDLE_MS": "1000",
    }
    dead, live = (start("timeline", "timeline-1", **settings) for _ in range(2))
    consumer = {url: fanout_of(url, service_credential)["consumer"] for url in (dead, live)}
    stop(dead, signal.SIGKILL)
    author, reader = sign_up(api), sign_up(api)
    follow(api, reader, author)
    post_id = (int(time.time() * 1000) << 10) + 900
    record = orjson.dumps(
        {
            "id": post_id,
            "author_id": author.id,
            "author": author.handle,
            "text": "read by a replica that died",
            "created_ms": post_id >> 10,
        }
    )
    # The event lands on the stream and in the dead replica's pending list in one step (no
    # live member can read it in between), as if it had read it just before it died.
    with store.pipeline(transaction=True) as pipe:
        pipe.xadd(POST_EVENTS_STREAM, {"post": record})
        pipe.xreadgroup("timeline", consumer[dead], {POST_EVENTS_STREAM: ">"}, count=1)
        pipe.execute()
    handled_before = fanout_of(live, service_credential)["processed"]
    home = eventually(
        lambda: [p["id"] for p in home_of(live, reader, service_credential)],
        lambda ids: post_id in ids,
    )
    assert home[0] == post_id
    assert fanout_of(live, service_credential)["processed"] > handled_before
    pending = store.xpending_range(POST_EVENTS_STREAM, "timeline", "-", "+", 100, consumer[dead])
    assert pending == []


def fanout_of(url: str, credential: dict[str, str]) -> dict[str, Any]:
    answer = httpx.get(url + "/internal/fanout", headers=credential, timeout=5)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def home_of(url: str, reader: Member, credential: dict[str, str]) -> list[dict[str, Any]]:
    answer = httpx.get(url + "/internal/timeline", headers=credential | reader.auth, timeout=5)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


# Two gateways, two posts: one post per Idempotency-Key, each outbox entry delivered once.


@dataclass(frozen=True)
class Second:
    gateway: str
    posts: str
    dms: str


@pytest.fixture(scope="module")
def second(start: Started) -> Second:
    """A second gateway on the stack's Redis, calling a second posts and a second dms."""
    posts, dms = start("posts", "posts"), start("dms", "dms")
    gateway = start("gateway", "gateway", FAILWHALE_POSTS_URL=posts, FAILWHALE_DMS_URL=dms)
    return Second(gateway, posts, dms)


def test_the_same_idempotency_key_on_two_gateways_at_once_makes_one_post(
    api: httpx.Client, layout: LocalLayout, second: Second
) -> None:
    author = sign_up(api)
    gateways = [layout.gateway_url, second.gateway] * 3

    def send(pair: tuple[str, str]) -> httpx.Response:
        url, key = pair
        headers = author.auth | {"Idempotency-Key": key}
        return httpx.post(url + "/v1/posts", json={"text": "once"}, headers=headers, timeout=10)

    keys = [uuid.uuid4().hex for _ in range(5)]
    with ThreadPoolExecutor(len(gateways)) as pool:
        for key in keys:
            answers = list(pool.map(send, [(url, key) for url in gateways]))
            assert {a.status_code for a in answers} <= {201, 409}, [a.text for a in answers]
            ids = {a.json()["id"] for a in answers if a.status_code == 201}
            assert len(ids) == 1, ids
    listed = posts_of(api, author)
    assert len(listed) == len(keys)


def test_dms_sent_through_two_gateways_and_two_dms_at_once_are_numbered_without_gap_or_repeat(
    api: httpx.Client, layout: LocalLayout, second: Second
) -> None:
    one, other = sign_up(api), sign_up(api)
    sends = [
        (gateway, sender, peer, f"message {i} via {n}")
        for i in range(10)
        for n, gateway in enumerate((layout.gateway_url, second.gateway))
        for sender, peer in ((one, other), (other, one))
    ]

    def send(job: tuple[str, Member, Member, str]) -> dict[str, Any]:
        gateway, sender, peer, text = job
        answer = httpx.post(
            f"{gateway}/v1/dms/{peer.handle}",
            json={"text": text},
            headers=sender.auth | {"Idempotency-Key": uuid.uuid4().hex},
            timeout=10,
        )
        assert answer.status_code == 201, answer.text
        body: dict[str, Any] = answer.json()
        return body

    with ThreadPoolExecutor(8) as pool:
        sent = list(pool.map(send, sends))
    assert sorted(m["seq"] for m in sent) == list(range(1, len(sends) + 1))
    read = api.get(f"/v1/dms/{other.handle}", params={"limit": 100}, headers=one.auth)
    items = read.json()["items"]
    assert [m["seq"] for m in items] == list(range(1, len(sends) + 1))
    assert sorted(m["text"] for m in items) == sorted(text for *_, text in sends)


def posts_of(api: httpx.Client, author: Member) -> list[dict[str, Any]]:
    answer = api.get(f"/v1/users/{author.handle}/posts", params={"limit": 100}, headers=author.auth)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def outbox_deliveries(posts_url: str) -> float:
    text = httpx.get(posts_url + "/metrics", timeout=5).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith("failwhale_http_requests_total{") and "/internal/outbox/posts" in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_two_gateways_deliver_each_outbox_entry_once_and_one_of_them_leads(
    api: httpx.Client, layout: LocalLayout, store: redis.Redis, second: Second
) -> None:
    author = sign_up(api)
    gateways = (layout.gateway_url, second.gateway)
    status = [httpx.get(url + "/v1/status").json() for url in gateways]
    assert len({s["instance"] for s in status}) == 2  # each replica answers for itself
    drainers = [s["outbox_drainers"] for s in status]
    assert sorted(d["posts"]["leader"] for d in drainers) == [False, True]
    assert sorted(d["dms"]["leader"] for d in drainers) == [False, True]
    assert all(d["posts"]["running"] and d["dms"]["running"] for d in drainers)
    posts_urls = (layout.url("posts"), second.posts)
    before = sum(outbox_deliveries(url) for url in posts_urls)
    base = int(time.time() * 1000) * 1024 + 512
    count = 60
    with store.pipeline(transaction=False) as pipe:
        for i in range(count):
            entry: dict[Any, Any] = {
                "id": base + i,
                "author_id": author.id,
                "author": author.handle,
                "text": f"from the outbox {i}",
                "key": f"outbox-{uuid.uuid4().hex}",
            }
            pipe.xadd("gw:outbox:posts", entry)
        pipe.execute()
    eventually(lambda: store.xlen("gw:outbox:posts"), lambda n: n == 0, timeout_s=30.0)
    listed = posts_of(api, author)
    assert sorted(p["id"] for p in listed) == [base + i for i in range(count)]
    # The two posts processes, each called by one gateway, were asked once per entry in all.
    delivered = sum(outbox_deliveries(url) for url in posts_urls) - before
    assert delivered == count


# Gateways that find their timeline replicas by name, through the system's resolver.


def discovered(gateway: str) -> dict[str, Any]:
    found: dict[str, Any] = httpx.get(gateway + "/v1/status").json()["timeline_discovery"]
    return found


def test_a_gateway_reads_home_timelines_from_the_replica_its_discovery_name_resolves_to(
    api: httpx.Client, start: Started
) -> None:
    replica = start("timeline", "timeline-1")
    port = replica.rsplit(":", 1)[1]
    gateway = start(
        "gateway",
        "gateway",
        FAILWHALE_TIMELINE_DISCOVERY=f"localhost:{port}",
        FAILWHALE_TIMELINE_DISCOVERY_INTERVAL_S="0.5",
        FAILWHALE_TIMELINE_URLS="http://127.0.0.1:9",  # not used: discovery decides
    )
    # localhost's address has no task name behind it: the replica is called by its address.
    assert discovered(gateway)["replicas"] == {"127.0.0.1": "127.0.0.1"}
    assert discovered(gateway)["name"] == f"localhost:{port}"
    author, reader = sign_up(api), sign_up(api)
    follow(api, reader, author)
    created = post(api, author, "read through a discovered replica")["id"]
    with client(gateway) as through:
        ids = eventually(lambda: timeline_ids(through, reader), lambda ids: created in ids)
        answer = through.get("/v1/timeline", headers=reader.auth)
    assert ids[0] == created
    assert "x-degraded" not in answer.headers
    names = [d["name"] for d in httpx.get(gateway + "/v1/status").json()["dependencies"]]
    assert "127.0.0.1" in names
    lookups = discovered(gateway)["lookups"]
    eventually(lambda: discovered(gateway)["lookups"], lambda n: n > lookups)  # it goes on


def test_a_discovery_name_without_addresses_gives_degraded_timelines_never_an_error(
    api: httpx.Client, start: Started
) -> None:
    gateway = start("gateway", "gateway", FAILWHALE_TIMELINE_DISCOVERY="timeline.invalid:8000")
    assert discovered(gateway)["replicas"] == {}
    author, reader = sign_up(api), sign_up(api)
    follow(api, reader, author)
    created = post(api, author, "read with no timeline replica at all")["id"]
    with client(gateway) as through:
        answer = through.get("/v1/timeline", headers=reader.auth)
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-degraded"] == "timeline=fanout-on-read"
    assert [item["id"] for item in answer.json()["items"]] == [created]
    dependencies = httpx.get(gateway + "/v1/status").json()["dependencies"]
    assert not any(d["name"].startswith("timeline") for d in dependencies)
