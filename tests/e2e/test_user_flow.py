"""A user's journey through the public API of the running stack: accounts, follows, posts reaching
a follower's home timeline, and direct messages both ways in sequence order; and what the
published port refuses (tokens signed with the published development secrets, internal paths)."""

import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from services.common.auth import TokenKeys, User, issue_user_token
from services.common.settings import DEV_INTERNAL_SECRET, DEV_TOKEN_SECRET

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

PASSWORD = "correct-horse-battery-staple"
FANOUT_DEADLINE_S = 10.0


@dataclass(frozen=True)
class Account:
    id: str
    handle: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def client(gateway_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway_url, timeout=10.0) as http:
        yield http


@pytest.fixture
def register(client: httpx.Client) -> Callable[[str], Account]:
    suffix = secrets.token_hex(4)

    def create(name: str) -> Account:
        handle = f"{name}_{suffix}"
        answer = client.post("/v1/users", json={"handle": handle, "password": PASSWORD})
        assert answer.status_code == 201, answer.text
        body = answer.json()
        assert body["handle"] == handle
        assert body["token"]
        return Account(id=str(body["id"]), handle=handle, token=body["token"])

    return create


def _home_timeline_item(client: httpx.Client, reader: Account, post_id: str) -> dict[str, Any]:
    """Polls the reader's home timeline until the post is there (fan-out is asynchronous)."""
    deadline = time.monotonic() + FANOUT_DEADLINE_S
    while True:
        answer = client.get("/v1/timeline", headers=reader.auth)
        assert answer.status_code == 200, answer.text
        for item in answer.json()["items"]:
            if item["id"] == post_id:
                assert "X-Degraded" not in answer.headers, answer.headers["X-Degraded"]
                return dict(item)
        if time.monotonic() > deadline:
            pytest.fail(f"post {post_id} not in {reader.handle}'s timeline: {answer.json()}")
        time.sleep(0.25)


def _send_dm(client: httpx.Client, sender: Account, to: Account, text: str) -> dict[str, Any]:
    answer = client.post(f"/v1/dms/{to.handle}", json={"text": text}, headers=sender.auth)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def test_follower_sees_a_new_post_in_home_timeline(
    client: httpx.Client, register: Callable[[str], Account]
) -> None:
    alice, bob = register("alice"), register("bob")
    followed = client.put(f"/v1/follows/{alice.handle}", headers=bob.auth)
    assert followed.status_code == 204, followed.text

    text = f"hello from the e2e test #failwhale {secrets.token_hex(4)}"
    answer = client.post("/v1/posts", json={"text": text}, headers=alice.auth)
    assert answer.status_code == 201, answer.text
    post = answer.json()
    assert (post["author"], post["text"]) == (alice.handle, text)

    item = _home_timeline_item(client, bob, post["id"])
    assert (item["author"], item["text"]) == (alice.handle, text)

    fetched = client.get(f"/v1/posts/{post['id']}", headers=bob.auth)
    assert fetched.status_code == 200, fetched.text
    assert fetched.json()["text"] == text


def test_direct_messages_both_ways_share_one_conversation_in_seq_order(
    client: httpx.Client, register: Callable[[str], Account]
) -> None:
    alice, bob = register("alice"), register("bob")
    exchange = [(alice, bob, "hi bob"), (bob, alice, "hi alice"), (alice, bob, "how are you?")]

    sent = [_send_dm(client, sender, to, text) for sender, to, text in exchange]

    assert [message["seq"] for message in sent] == [1, 2, 3]
    assert len({message["conversation_id"] for message in sent}) == 1
    expected = [(seq, sender.handle, text) for seq, (sender, _, text) in enumerate(exchange, 1)]
    for reader, other in ((alice, bob), (bob, alice)):
        answer = client.get(f"/v1/dms/{other.handle}", headers=reader.auth)
        assert answer.status_code == 200, answer.text
        items = answer.json()["items"]
        assert [(m["seq"], m["sender"], m["text"]) for m in items] == expected

    later = client.get(f"/v1/dms/{alice.handle}", params={"after_seq": 1}, headers=bob.auth)
    assert later.status_code == 200, later.text
    assert [m["seq"] for m in later.json()["items"]] == [2, 3]


def test_a_token_signed_with_the_published_development_secret_is_refused(
    client: httpx.Client, register: Callable[[str], Account]
) -> None:
    alice = register("alice")
    forged = issue_user_token(
        TokenKeys(DEV_TOKEN_SECRET, DEV_INTERNAL_SECRET), User(int(alice.id), alice.handle)
    )
    refused = client.get("/v1/timeline", headers={"Authorization": f"Bearer {forged}"})
    assert refused.status_code == 401, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert client.get("/v1/timeline", headers=alice.auth).status_code == 200


def test_the_published_port_serves_no_internal_path(client: httpx.Client) -> None:
    tried = [
        ("GET", "/internal/faults"),
        ("PUT", "/internal/faults"),
        ("DELETE", "/internal/faults"),
        ("GET", "/internal/timeline"),
    ]
    for method, path in tried:
        answer = client.request(method, path, json={"error_rate": 1, "duration_s": 5})
        assert answer.status_code == 404, f"{method} {path}: {answer.status_code} {answer.text}"
