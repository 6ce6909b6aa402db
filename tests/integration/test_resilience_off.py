"""With FAILWHALE_RESILIENCE=off the same faults reach the users: no failover, no fallback, no
outbox, and a paused dependency makes requests hang."""

import signal
import time
from collections.abc import Iterator

import httpx
import pytest

from stack.local import LocalStack
from tests.integration.chirp import Member
from tests.integration.own_stack import author_and_reader, own_stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with own_stack(tmp_path_factory.mktemp("off"), env={"FAILWHALE_RESILIENCE": "off"}) as local:
        yield local


@pytest.fixture
def api(stack: LocalStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.layout.gateway_url, timeout=10) as client:
        yield client


@pytest.fixture
def pair(api: httpx.Client) -> tuple[Member, Member]:
    return author_and_reader(api, "hello")


def test_status_says_the_layer_is_off(api: httpx.Client) -> None:
    status = api.get("/v1/status").json()
    assert status["resilience"] == "off"
    assert {d["breaker"] for d in status["dependencies"]} == {"none"}


def test_one_dead_timeline_replica_fails_its_share_of_reads(
    stack: LocalStack, api: httpx.Client, pair: tuple[Member, Member]
) -> None:
    _, reader = pair
    stack.send_signal("timeline-1", signal.SIGKILL)
    try:
        codes = [api.get("/v1/timeline", headers=reader.auth).status_code for _ in range(10)]
    finally:
        stack.restart("timeline-1")
    assert codes.count(503) == 5 and codes.count(200) == 5


def test_dead_services_are_errors_without_fallbacks(
    stack: LocalStack, api: httpx.Client, pair: tuple[Member, Member]
) -> None:
    author, reader = pair
    names = ("timeline-1", "timeline-2", "posts", "trends")
    for name in names:
        stack.send_signal(name, signal.SIGKILL)
    try:
        timeline = api.get("/v1/timeline", headers=reader.auth)
        written = api.post("/v1/posts", json={"text": "lost?"}, headers=author.auth)
        trends = api.get("/v1/trends")
    finally:
        for name in names:
            stack.restart(name)
    for answer in (timeline, written, trends):
        assert answer.status_code == 503
        assert "x-degraded" not in answer.headers
    assert api.get("/v1/status").json()["outbox_depth"] == {"posts": 0, "dms": 0}


def test_a_paused_dependency_makes_requests_hang(
    stack: LocalStack, api: httpx.Client, pair: tuple[Member, Member]
) -> None:
    author, reader = pair
    stack.send_signal("dms", signal.SIGSTOP)
    started = time.monotonic()
    try:
        with pytest.raises(httpx.ReadTimeout):
            api.post(
                f"/v1/dms/{reader.handle}", json={"text": "anyone?"}, headers=author.auth,
                timeout=3,
            )  # fmt: skip
    finally:
        stack.send_signal("dms", signal.SIGCONT)
    assert time.monotonic() - started >= 3
