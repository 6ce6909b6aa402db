"""Redis stopped under a stack of this module's own: the gateway answers 503 problem+json with
Retry-After at once instead of hanging, and everything works again, data intact, once Redis is
back."""

import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from stack.layout import free_layout
from stack.local import LocalStack
from tests.integration.chirp import (
    PASSWORD,
    eventually,
    follow,
    new_handle,
    post,
    sign_up,
    timeline_ids,
)
from tests.unit.problems import assert_problem

pytestmark = pytest.mark.integration
QUICK_S = 3.0  # "within a couple of seconds", with room for a slow machine
RECOVER_S = 30.0


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A stack of its own: this module stops its Redis."""
    local = LocalStack(tmp_path_factory.mktemp("redis-outage"), free_layout())
    local.up()
    try:
        yield local
    finally:
        local.down()


@pytest.fixture(scope="module")
def gateway(own_stack: LocalStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=own_stack.layout.gateway_url, timeout=30) as client:
        yield client


def timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    answer = call()
    return answer, time.monotonic() - started


def test_redis_down_is_a_quick_503_then_everything_recovers_with_its_data(
    own_stack: LocalStack, gateway: httpx.Client
) -> None:
    author, reader = sign_up(gateway), sign_up(gateway)
    follow(gateway, reader, author)
    before = post(gateway, author, "written before the outage")
    eventually(lambda: timeline_ids(gateway, reader), lambda ids: before["id"] in ids)
    time.sleep(1.1)  # Redis writes its append-only file every second

    own_stack.stop("redis")
    try:
        writes = {
            "sign up": lambda: gateway.post(
                "/v1/users", json={"handle": new_handle(), "password": PASSWORD}
            ),
            "log in": lambda: gateway.post(
                "/v1/sessions", json={"handle": author.handle, "password": PASSWORD}
            ),
            "post": lambda: gateway.post("/v1/posts", json={"text": "lost?"}, headers=author.auth),
            "dm": lambda: gateway.post(
                f"/v1/dms/{reader.handle}", json={"text": "lost?"}, headers=author.auth
            ),
            "follow": lambda: gateway.delete(f"/v1/follows/{author.handle}", headers=reader.auth),
        }
        for name, call in writes.items():
            answer, took = timed(call)
            assert took < QUICK_S, (name, took)
            assert_problem(answer, 503, "dependency-unavailable")
            assert int(answer.headers["retry-after"]) >= 1, name
        ready, took = timed(lambda: gateway.get("/readyz"))
        assert took < QUICK_S
        assert_problem(ready, 503)
        assert gateway.get("/healthz").status_code == 200  # alive, just not ready
        # Reads never hang either: a 503, or what the gateway still holds, flagged.
        for path in ("/v1/timeline", f"/v1/posts/{before['id']}", "/v1/trends"):
            answer, took = timed(lambda: gateway.get(path, headers=reader.auth))  # noqa: B023
            assert took < QUICK_S, (path, took)
            assert answer.status_code in (200, 503), (path, answer.text)
            if answer.status_code == 200:
                assert answer.headers["x-degraded"], path
    finally:
        own_stack.start_redis()

    newcomer = eventually(
        lambda: gateway.post("/v1/users", json={"handle": new_handle(), "password": PASSWORD}),
        lambda answer: answer.status_code == 201,
        RECOVER_S,
        every_s=0.5,
    )
    assert newcomer.json()["token"]
    after = eventually(
        lambda: gateway.post("/v1/posts", json={"text": "after the outage"}, headers=author.auth),
        lambda answer: answer.status_code == 201,
        RECOVER_S,
        every_s=0.5,
    ).json()
    ids = eventually(
        lambda: timeline_ids(gateway, reader), lambda ids: after["id"] in ids, RECOVER_S
    )
    assert ids == [after["id"], before["id"]]  # the older post survived the restart
    assert gateway.get(f"/v1/posts/{before['id']}", headers=reader.auth).json() == before
    # What was refused with 503 was not written after all.
    own = gateway.get(f"/v1/users/{author.handle}/posts", headers=author.auth).json()["items"]
    assert [p["text"] for p in own] == ["after the outage", "written before the outage"]
    assert gateway.get(f"/v1/dms/{reader.handle}", headers=author.auth).json()["items"] == []
    session = gateway.post("/v1/sessions", json={"handle": author.handle, "password": PASSWORD})
    assert session.status_code == 200
    assert gateway.get("/readyz").status_code == 200
