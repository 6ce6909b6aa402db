"""Chirp as the integration tests use it: members who sign up with handles of their own, and
waiting with a deadline for what happens eventually (fan-out, trends)."""

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import httpx

T = TypeVar("T")
PASSWORD = "correct-horse-battery"


def new_handle(prefix: str = "u") -> str:
    """A handle no other test uses (matches ^[a-z0-9_]{3,30}$)."""
    return f"{prefix[:8]}_{uuid.uuid4().hex[:20]}"


@dataclass(frozen=True)
class Member:
    id: int
    handle: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def sign_up(api: httpx.Client, prefix: str = "u") -> Member:
    handle = new_handle(prefix)
    answer = api.post("/v1/users", json={"handle": handle, "password": PASSWORD})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["handle"] == handle
    return Member(id=body["id"], handle=handle, token=body["token"])


def follow(api: httpx.Client, follower: Member, followee: Member) -> None:
    answer = api.put(f"/v1/follows/{followee.handle}", headers=follower.auth)
    assert answer.status_code == 204, answer.text


def post(api: httpx.Client, author: Member, text: str, **headers: str) -> dict[str, object]:
    answer = api.post("/v1/posts", json={"text": text}, headers=author.auth | headers)
    assert answer.status_code == 201, answer.text
    body: dict[str, object] = answer.json()
    return body


def timeline_ids(api: httpx.Client, reader: Member, limit: int = 100) -> list[int]:
    answer = api.get("/v1/timeline", params={"limit": limit}, headers=reader.auth)
    assert answer.status_code == 200, answer.text
    return [item["id"] for item in answer.json()["items"]]


def eventually(
    probe: Callable[[], T],
    until: Callable[[T], bool],
    timeout_s: float = 10.0,
    every_s: float = 0.1,
) -> T:
    """Calls `probe` until `until(result)` holds; fails with the last result after the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = probe()
        if until(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"still not there after {timeout_s} s: {result!r}")
        time.sleep(every_s)


def settle_breakers(url: str, timeout_s: float = 20.0) -> None:
    """Calls every dependency through the gateway until all its breakers are closed again, so
    that one test's fault never leaks into the next."""
    with httpx.Client(base_url=url, timeout=5) as client:
        visitor = sign_up_when_possible(client)

        def breakers() -> dict[str, str]:
            auth = visitor.auth if visitor else {}
            client.get("/v1/timeline", headers=auth)
            client.get("/v1/posts/1", headers=auth)
            client.get("/v1/dms/nobody_here", headers=auth)
            client.get("/v1/trends")
            client.post("/v1/sessions", json={"handle": "nobody_here", "password": "x" * 10})
            status = client.get("/v1/status").json()
            return {d["name"]: d["breaker"] for d in status["dependencies"]}

        eventually(breakers, lambda b: set(b.values()) == {"closed"}, timeout_s, every_s=0.5)


def sign_up_when_possible(client: httpx.Client) -> Member | None:
    try:
        return eventually(lambda: _try_sign_up(client), lambda m: m is not None, 10, 0.5)
    except AssertionError:
        return None


def _try_sign_up(client: httpx.Client) -> Member | None:
    try:
        return sign_up(client, "visitor")
    except AssertionError:
        return None
