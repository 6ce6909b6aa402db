"""Services stopped under the shared stack: fan-out waits for users and catches up, a dead
timeline replica's events are taken over by the other, and a retry with an Idempotency-Key
during an outage still answers what the first request was answered. Each test restarts what it
stopped."""

import signal
import time
from collections.abc import Iterator

import httpx
import pytest
import redis

from services.common.wire import POST_EVENTS_STREAM
from stack.layout import LocalLayout
from stack.local import LocalStack
from tests.integration.chirp import (
    PASSWORD,
    Member,
    eventually,
    follow,
    new_handle,
    post,
    sign_up,
    timeline_ids,
)
from tests.unit.problems import assert_problem

pytestmark = pytest.mark.integration
PROCESSES = ("users", "posts", "timeline-1", "timeline-2", "dms")
CATCH_UP_S = 20.0  # the fan-out retries with backoff up to 5 s
CLAIM_S = 35.0  # events of a dead replica are claimed after 15 s idle


@pytest.fixture
def restore(stack: LocalStack, api: httpx.Client) -> Iterator[LocalStack]:
    """Whatever a test stops is running and ready again after it, and the gateway uses it."""
    yield stack
    for name in PROCESSES:
        if name not in stack.processes:
            stack.start_service(name)
    for name in PROCESSES:
        stack.wait_ready(name)
    eventually(lambda: gateway_recovered(api), bool, timeout_s=20.0, every_s=0.5)


def gateway_recovered(api: httpx.Client) -> bool:
    """The gateway calls users and both timeline replicas again: calls that need them succeed,
    undegraded, and the breakers the outage opened have closed (a breaker closes only after its
    reset timeout, when a call it lets through as a probe succeeds: so make such calls)."""
    login = api.post("/v1/sessions", json={"handle": new_handle(), "password": PASSWORD})
    if login.status_code != 401:
        return False
    signed = api.post("/v1/users", json={"handle": new_handle(), "password": PASSWORD})
    if signed.status_code != 201:
        return False
    reader = {"Authorization": f"Bearer {signed.json()['token']}"}
    reads = [api.get("/v1/timeline", headers=reader) for _ in range(2)]  # one per replica
    reads.append(api.get(f"/v1/dms/{signed.json()['handle']}", headers=reader))
    reads.append(api.get(f"/v1/users/{signed.json()['handle']}/posts", headers=reader))
    if any(r.status_code != 200 or "x-degraded" in r.headers for r in reads):
        return False
    breakers = {d["name"]: d["breaker"] for d in api.get("/v1/status").json()["dependencies"]}
    return all(breakers.get(name) in ("closed", "none") for name in PROCESSES)


def home_via(
    layout: LocalLayout, replica: str, reader: Member, credential: dict[str, str]
) -> list[int]:
    """The reader's home timeline as one replica serves it (bypassing the gateway's choice)."""
    answer = httpx.get(
        layout.url(replica) + "/internal/timeline",
        params={"limit": 100},
        headers=credential | reader.auth,
    )
    assert answer.status_code == 200, answer.text
    return [item["id"] for item in answer.json()["items"]]


def test_calls_that_need_users_answer_503_quickly_while_it_is_down(
    api: httpx.Client, restore: LocalStack
) -> None:
    member, other = sign_up(api), sign_up(api)
    restore.stop("users")
    calls = [
        ("POST", "/v1/users", {"handle": new_handle(), "password": PASSWORD}, {}),
        ("POST", "/v1/sessions", {"handle": member.handle, "password": PASSWORD}, {}),
        ("PUT", f"/v1/follows/{other.handle}", None, member.auth),
        ("DELETE", f"/v1/follows/{other.handle}", None, member.auth),
    ]
    for method, path, body, headers in calls:
        started = time.monotonic()
        answer = api.request(method, path, json=body, headers=headers)
        assert time.monotonic() - started < 3.0, (method, path)
        assert_problem(answer, 503)
        assert int(answer.headers["retry-after"]) >= 1


def test_posting_and_reading_work_while_users_is_down(
    api: httpx.Client, restore: LocalStack
) -> None:
    author = sign_up(api)
    created = post(api, author, "before the outage")
    eventually(lambda: timeline_ids(api, author), lambda ids: created["id"] in ids)
    restore.stop("users")
    during = api.post("/v1/posts", json={"text": "during the outage"}, headers=author.auth)
    assert during.status_code in (201, 202), during.text
    assert api.get(f"/v1/posts/{created['id']}", headers=author.auth).json() == created
    assert created["id"] in timeline_ids(api, author)


def test_fan_out_catches_up_after_users_comes_back(api: httpx.Client, restore: LocalStack) -> None:
    author, follower, stranger = sign_up(api), sign_up(api), sign_up(api)
    follow(api, follower, author)
    restore.stop("users")
    during = [post(api, author, f"while users is away {i}")["id"] for i in range(3)]
    # Fan-out needs the author's followers from users: nothing can have arrived yet.
    assert not set(during) & set(timeline_ids(api, follower))

    restore.start_service("users")
    restore.wait_ready("users")
    ids = eventually(
        lambda: timeline_ids(api, follower), lambda ids: set(during) <= set(ids), CATCH_UP_S
    )
    assert ids == sorted(during, reverse=True)
    assert set(during) <= set(timeline_ids(api, author))
    assert timeline_ids(api, stranger) == []
    # and users serves the gateway again
    assert api.post("/v1/sessions", json={"handle": author.handle, "password": PASSWORD}).is_success


def test_the_other_timeline_replica_keeps_fanning_out(
    api: httpx.Client,
    layout: LocalLayout,
    restore: LocalStack,
    service_credential: dict[str, str],
) -> None:
    author, follower = sign_up(api), sign_up(api)
    follow(api, follower, author)
    restore.stop("timeline-1")
    created = [post(api, author, f"one replica left {i}")["id"] for i in range(5)]
    ids = eventually(
        lambda: home_via(layout, "timeline-2", follower, service_credential),
        lambda ids: set(created) <= set(ids),
    )
    assert ids == created[::-1]


def test_gateway_reads_home_timelines_from_the_replica_that_is_left(
    api: httpx.Client,
    layout: LocalLayout,
    restore: LocalStack,
    service_credential: dict[str, str],
) -> None:
    author = sign_up(api)
    created = post(api, author, "read me with a replica down")
    eventually(lambda: timeline_ids(api, author), lambda ids: created["id"] in ids)
    restore.stop("timeline-2")
    answers = [api.get("/v1/timeline", headers=author.auth) for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 6
    assert all(a.json()["items"] == [created] for a in answers)


def test_events_left_pending_by_a_dead_replica_are_claimed_by_the_other(
    api: httpx.Client,
    layout: LocalLayout,
    restore: LocalStack,
    store: redis.Redis,
    service_credential: dict[str, str],
) -> None:
    author, follower = sign_up(api), sign_up(api)
    follow(api, follower, author)
    # Only timeline-1 consumes, and cannot finish (users is away): the event stays pending
    # with timeline-1, which then dies.
    restore.stop("timeline-2")
    restore.stop("users")
    created = post(api, author, "orphaned event")

    def pending_of(consumer: str) -> int:
        for entry in store.xpending(POST_EVENTS_STREAM, "timeline")["consumers"]:
            if entry["name"].startswith(f"{consumer}@"):  # one consumer per instance
                return int(entry["pending"])
        return 0

    eventually(lambda: pending_of("timeline-1"), lambda n: n >= 1)
    restore.stop("timeline-1", signal.SIGKILL)
    restore.start_service("users")
    restore.start_service("timeline-2")
    restore.wait_ready("users")
    restore.wait_ready("timeline-2")

    ids = eventually(
        lambda: home_via(layout, "timeline-2", follower, service_credential),
        lambda ids: created["id"] in ids,
        CLAIM_S,
        every_s=0.5,
    )
    assert ids == [created["id"]]
    assert pending_of("timeline-1") == 0
    status = httpx.get(layout.url("timeline-2") + "/internal/fanout", headers=service_credential)
    assert status.json()["consumer"].startswith("timeline-2@")
    assert status.json()["processed"] >= 1


def test_keyed_post_retried_while_posts_is_down_replays_the_first_answer(
    api: httpx.Client, restore: LocalStack
) -> None:
    author = sign_up(api)
    headers = author.auth | {"Idempotency-Key": new_handle("key")}
    first = api.post("/v1/posts", json={"text": "said once"}, headers=headers)
    assert first.status_code == 201
    restore.stop("posts")
    retry = api.post("/v1/posts", json={"text": "said once"}, headers=headers)
    assert retry.json()["id"] == first.json()["id"], "the retry was given another post id"
    restore.start_service("posts")
    restore.wait_ready("posts")
    eventually(lambda: gateway_recovered(api), bool, timeout_s=20.0, every_s=0.5)
    # whatever the retry was told exists, and there is one post
    shown = api.get(f"/v1/posts/{retry.json()['id']}", headers=author.auth)
    assert shown.status_code == 200
    own = api.get(f"/v1/users/{author.handle}/posts", headers=author.auth).json()["items"]
    assert [p["id"] for p in own] == [first.json()["id"]]


def test_keyed_dm_retried_while_dms_is_down_replays_the_first_answer(
    api: httpx.Client, restore: LocalStack
) -> None:
    sender, peer = sign_up(api), sign_up(api)
    headers = sender.auth | {"Idempotency-Key": new_handle("key")}
    first = api.post(f"/v1/dms/{peer.handle}", json={"text": "once"}, headers=headers)
    assert first.status_code == 201
    restore.stop("dms")
    retry = api.post(f"/v1/dms/{peer.handle}", json={"text": "once"}, headers=headers)
    assert (retry.status_code, retry.json()["seq"]) == (201, 1)
    restore.start_service("dms")
    restore.wait_ready("dms")
    eventually(lambda: gateway_recovered(api), bool, timeout_s=20.0, every_s=0.5)
    assert api.get(f"/v1/dms/{peer.handle}", headers=sender.auth).json()["items"] == [first.json()]
