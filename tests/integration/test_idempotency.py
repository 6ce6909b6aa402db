"""Idempotency-Key on writes: a retry replays the first answer, another body is refused, and
nothing is ever written twice, even under concurrent retries."""

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from stack.layout import LocalLayout
from tests.integration.chirp import Member, sign_up
from tests.unit.problems import assert_problem

pytestmark = pytest.mark.integration


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def posts_of(api: httpx.Client, member: Member) -> list[dict[str, object]]:
    answer = api.get(f"/v1/users/{member.handle}/posts?limit=100", headers=member.auth)
    items: list[dict[str, object]] = answer.json()["items"]
    return items


def dms_between(api: httpx.Client, reader: Member, peer: Member) -> list[dict[str, object]]:
    answer = api.get(f"/v1/dms/{peer.handle}?limit=100", headers=reader.auth)
    items: list[dict[str, object]] = answer.json()["items"]
    return items


def only_one_answer_or_in_progress(answers: list[httpx.Response]) -> dict[str, object]:
    """Concurrent requests with one key: each gets the first answer (201), or is told that a
    request with this key is in progress (409, to retry later); never a second write."""
    assert {a.status_code for a in answers} <= {201, 409}
    created = [a.json() for a in answers if a.status_code == 201]
    assert created, "no request got through"
    assert all(c == created[0] for c in created)
    for refused in (a for a in answers if a.status_code == 409):
        assert_problem(refused, 409, "conflict")
    first: dict[str, object] = created[0]
    return first


def test_post_retried_with_the_same_key_replays_the_first_answer(api: httpx.Client) -> None:
    alice = sign_up(api)
    headers = alice.auth | key()
    first = api.post("/v1/posts", json={"text": "only once"}, headers=headers)
    retry = api.post("/v1/posts", json={"text": "only once"}, headers=headers)
    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json() == first.json()
    assert "idempotent-replayed" not in first.headers
    assert retry.headers["idempotent-replayed"] == "true"
    assert [p["id"] for p in posts_of(api, alice)] == [first.json()["id"]]


def test_post_without_a_key_is_written_every_time(api: httpx.Client) -> None:
    alice = sign_up(api)
    for _ in range(2):
        api.post("/v1/posts", json={"text": "twice"}, headers=alice.auth)
    assert [p["text"] for p in posts_of(api, alice)] == ["twice", "twice"]


def test_same_post_key_with_another_body_is_a_422_and_stores_nothing(api: httpx.Client) -> None:
    alice = sign_up(api)
    headers = alice.auth | key()
    first = api.post("/v1/posts", json={"text": "original"}, headers=headers)
    other = api.post("/v1/posts", json={"text": "changed my mind"}, headers=headers)
    body = assert_problem(other, 422, "unprocessable")
    assert "Idempotency-Key" in str(body["detail"])
    assert posts_of(api, alice) == [first.json()]


def test_same_post_key_used_by_another_member_is_their_own(api: httpx.Client) -> None:
    alice, bob = sign_up(api), sign_up(api)
    shared = key()
    a = api.post("/v1/posts", json={"text": "same words"}, headers=alice.auth | shared)
    b = api.post("/v1/posts", json={"text": "same words"}, headers=bob.auth | shared)
    assert (a.status_code, b.status_code) == (201, 201)
    assert "idempotent-replayed" not in b.headers
    assert a.json()["id"] != b.json()["id"]
    assert (a.json()["author"], b.json()["author"]) == (alice.handle, bob.handle)
    assert len(posts_of(api, alice)) == len(posts_of(api, bob)) == 1


def test_concurrent_posts_with_one_key_create_exactly_one_post(
    api: httpx.Client, layout: LocalLayout
) -> None:
    alice = sign_up(api)
    headers = alice.auth | key()

    def send(_: int) -> httpx.Response:
        with httpx.Client(base_url=layout.gateway_url, timeout=10) as own:
            return own.post("/v1/posts", json={"text": "racing"}, headers=headers)

    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(send, range(24)))
    created = only_one_answer_or_in_progress(answers)
    assert [p["id"] for p in posts_of(api, alice)] == [created["id"]]
    # once the race is over, a retry replays the one post
    retry = api.post("/v1/posts", json={"text": "racing"}, headers=headers)
    assert retry.json() == created
    assert retry.headers["idempotent-replayed"] == "true"


def test_too_long_key_is_a_422_and_stores_nothing(api: httpx.Client) -> None:
    alice = sign_up(api)
    answer = api.post(
        "/v1/posts", json={"text": "keyed"}, headers=alice.auth | {"Idempotency-Key": "k" * 201}
    )
    assert_problem(answer, 422)
    assert posts_of(api, alice) == []


def test_dm_retried_with_the_same_key_replays_the_first_message(api: httpx.Client) -> None:
    alice, bob = sign_up(api), sign_up(api)
    headers = alice.auth | key()
    first = api.post(f"/v1/dms/{bob.handle}", json={"text": "once"}, headers=headers)
    retry = api.post(f"/v1/dms/{bob.handle}", json={"text": "once"}, headers=headers)
    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json() == first.json()
    assert retry.headers["idempotent-replayed"] == "true"
    after = api.post(f"/v1/dms/{bob.handle}", json={"text": "next"}, headers=alice.auth)
    assert after.json()["seq"] == 2  # the replay took no sequence number
    assert [m["seq"] for m in dms_between(api, bob, alice)] == [1, 2]


def test_same_dm_key_with_another_text_is_a_422_and_stores_nothing(api: httpx.Client) -> None:
    alice, bob = sign_up(api), sign_up(api)
    headers = alice.auth | key()
    first = api.post(f"/v1/dms/{bob.handle}", json={"text": "first"}, headers=headers)
    other = api.post(f"/v1/dms/{bob.handle}", json={"text": "second"}, headers=headers)
    assert_problem(other, 422, "unprocessable")
    assert dms_between(api, alice, bob) == [first.json()]


def test_same_dm_key_to_another_member_is_a_422_and_stores_nothing(api: httpx.Client) -> None:
    alice, bob, carol = sign_up(api), sign_up(api), sign_up(api)
    headers = alice.auth | key()
    api.post(f"/v1/dms/{bob.handle}", json={"text": "hello"}, headers=headers)
    other = api.post(f"/v1/dms/{carol.handle}", json={"text": "hello"}, headers=headers)
    assert_problem(other, 422, "unprocessable")
    assert dms_between(api, alice, carol) == []


def test_same_dm_key_used_by_the_other_side_is_their_own(api: httpx.Client) -> None:
    alice, bob = sign_up(api), sign_up(api)
    shared = key()
    a = api.post(f"/v1/dms/{bob.handle}", json={"text": "hey"}, headers=alice.auth | shared)
    b = api.post(f"/v1/dms/{alice.handle}", json={"text": "hey"}, headers=bob.auth | shared)
    assert (a.json()["seq"], b.json()["seq"]) == (1, 2)
    assert (a.json()["sender"], b.json()["sender"]) == (alice.handle, bob.handle)


def test_concurrent_dms_with_one_key_store_exactly_one_message(
    api: httpx.Client, layout: LocalLayout
) -> None:
    alice, bob = sign_up(api), sign_up(api)
    headers = alice.auth | key()

    def send(_: int) -> httpx.Response:
        with httpx.Client(base_url=layout.gateway_url, timeout=10) as own:
            return own.post(f"/v1/dms/{bob.handle}", json={"text": "race"}, headers=headers)

    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(send, range(24)))
    sent = only_one_answer_or_in_progress(answers)
    assert sent["seq"] == 1
    assert dms_between(api, bob, alice) == [sent]
