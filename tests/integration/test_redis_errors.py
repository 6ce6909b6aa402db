"""Redis answering with an error instead of a result, on a stack of this module's own: an outbox
drainer that hits one is restarted and still delivers every write it accepted, and a full Redis
(maxmemory reached, nothing evicted) makes writes a 503 problem, never a 500."""

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from services.common.wire import conversation_id
from services.gateway.writes import pending_key
from stack.local import LocalStack
from tests.integration.chirp import PASSWORD, Member, eventually, new_handle, sign_up
from tests.integration.own_stack import own_stack
from tests.unit.problems import assert_problem

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with own_stack(Path(tmp_path_factory.mktemp("redis-errors"))) as local:
        yield local


@pytest.fixture
def api(stack: LocalStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.layout.gateway_url, timeout=15) as client:
        yield client


@pytest.fixture
def store(stack: LocalStack) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(stack.layout.redis_url, decode_responses=True)
    try:
        yield client
    finally:
        client.close()


def conversation_texts(api: httpx.Client, reader: Member, peer: Member) -> list[str]:
    answer = api.get(f"/v1/dms/{peer.handle}", headers=reader.auth)
    return [m["text"] for m in answer.json().get("items", [])] if answer.status_code == 200 else []


def drainer(api: httpx.Client, name: str) -> dict[str, object]:
    report: dict[str, object] = api.get("/v1/status").json().get("outbox_drainers", {}).get(name)
    return report or {}


def test_a_drainer_hit_by_a_redis_error_is_restarted_and_delivers_every_accepted_dm(
    stack: LocalStack, api: httpx.Client, store: redis.Redis
) -> None:
    alice, bob = sign_up(api, "alice"), sign_up(api, "bob")
    stack.stop("dms")
    texts = [f"queued {index}" for index in range(3)]
    for text in texts:
        answer = api.post(f"/v1/dms/{bob.handle}", json={"text": text}, headers=alice.auth)
        assert answer.status_code == 202, answer.text
    # The conversation's pending count is no longer a number: counting it down is an error
    # reply from Redis (a ResponseError), on every try, until someone repairs it.
    pending = pending_key(conversation_id(alice.id, bob.id))
    store.set(pending, "not-a-number")
    stack.restart("dms")

    failing: dict[str, object] = {}
    ready = None
    try:
        failing = eventually(
            lambda: drainer(api, "dms"),
            lambda d: d.get("running") is False and int(str(d.get("restarts"))) >= 2,
            timeout_s=15,
        )
        ready = api.get("/readyz")
    except AssertionError:
        pass  # judged below, after the delivery
    store.set(pending, "3")  # repaired

    delivered = eventually(
        lambda: conversation_texts(api, alice, bob), lambda got: got == texts, timeout_s=20
    )
    assert delivered == texts  # every accepted DM, once, in order
    assert "not a count" in str(failing.get("last_error"))
    assert ready is not None
    body = assert_problem(ready, 503, "dependency-unavailable")
    assert "outbox drainer not running: dms" in str(body["detail"])
    eventually(lambda: drainer(api, "dms"), lambda d: d.get("running") is True, timeout_s=10)
    assert api.get("/readyz").status_code == 200
    assert not store.exists(pending)
    metrics = httpx.get(stack.layout.gateway_url + "/metrics").text
    restarts = re.search(
        r'failwhale_outbox_drainer_restarts_total\{outbox="dms",service="gateway"\} (\S+)', metrics
    )
    assert restarts is not None and float(restarts.group(1)) >= 2


def test_a_full_redis_refuses_writes_with_a_503_problem_and_then_takes_them_again(
    api: httpx.Client, store: redis.Redis
) -> None:
    alice, bob = sign_up(api, "alice"), sign_up(api, "bob")
    assert store.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
    store.config_set("maxmemory", 1)  # far below what it holds: every write is refused
    try:
        answers = {
            "post": api.post("/v1/posts", json={"text": "full"}, headers=alice.auth),
            "keyed post": api.post(
                "/v1/posts",
                json={"text": "full"},
                headers=alice.auth | {"Idempotency-Key": new_handle("k")},
            ),
            "dm": api.post(f"/v1/dms/{bob.handle}", json={"text": "full"}, headers=alice.auth),
            "sign-up": api.post("/v1/users", json={"handle": new_handle(), "password": PASSWORD}),
        }
    finally:
        store.config_set("maxmemory", 0)
    for what, answer in answers.items():
        assert answer.status_code == 503, f"{what}: {answer.status_code} {answer.text}"
        assert_problem(answer, 503, "dependency-unavailable")
        assert int(answer.headers["retry-after"]) >= 1
    assert store.xlen("gw:outbox:posts") == 0  # nothing half-written while full

    def posted() -> int:
        return api.post("/v1/posts", json={"text": "room again"}, headers=alice.auth).status_code

    assert eventually(posted, lambda status: status in (201, 202), timeout_s=20) in (201, 202)
