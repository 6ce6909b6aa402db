"""Chirp as the reliability checks use it through its public API: members with handles of their
own, posting and reading back whole histories, and waiting with a deadline for what happens
eventually (fan-out, outbox drains)."""

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

T = TypeVar("T")
PASSWORD = "correct-horse-battery"
# Paging through a history stops here even if the API kept answering `next`: every loop ends.
MAX_PAGES = 200


class UnexpectedAnswer(RuntimeError):
    """The API answered a step the check relies on (sign-up, follow, read-back) unexpectedly."""

    def __init__(self, step: str, answer: httpx.Response) -> None:
        super().__init__(f"{step}: {answer.status_code} {answer.text[:300]}")
        self.status = answer.status_code


def new_handle(prefix: str = "u") -> str:
    """A handle nobody else has (matches ^[a-z0-9_]{3,30}$)."""
    return f"{prefix[:8]}_{uuid.uuid4().hex[:20]}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class Member:
    id: int
    handle: str
    token: str
    password: str = PASSWORD

    @property
    def auth(self) -> dict[str, str]:
        return bearer(self.token)


def sign_up(api: httpx.Client, prefix: str = "u") -> Member:
    handle = new_handle(prefix)
    answer = api.post("/v1/users", json={"handle": handle, "password": PASSWORD})
    if answer.status_code != 201:
        raise UnexpectedAnswer("sign-up", answer)
    body = answer.json()
    return Member(id=int(body["id"]), handle=handle, token=str(body["token"]))


def follow(api: httpx.Client, follower: Member, followee: Member) -> None:
    answer = api.put(f"/v1/follows/{followee.handle}", headers=follower.auth)
    if answer.status_code != 204:
        raise UnexpectedAnswer("follow", answer)


def post(api: httpx.Client, author: Member, text: str) -> dict[str, Any]:
    answer = api.post("/v1/posts", json={"text": text}, headers=author.auth)
    if answer.status_code != 201:
        raise UnexpectedAnswer("post", answer)
    body: dict[str, Any] = answer.json()
    return body


def send_dm(api: httpx.Client, sender: Member, peer: Member, text: str) -> dict[str, Any]:
    answer = api.post(f"/v1/dms/{peer.handle}", json={"text": text}, headers=sender.auth)
    if answer.status_code != 201:
        raise UnexpectedAnswer("send a DM", answer)
    body: dict[str, Any] = answer.json()
    return body


def all_items(api: httpx.Client, reader: Member, path: str) -> list[dict[str, Any]]:
    """Every item of a newest-first paged list (`{items, next}`), following `next`."""
    items: list[dict[str, Any]] = []
    before: int | None = None
    for _ in range(MAX_PAGES):
        params: dict[str, int] = {"limit": 100} | ({"before": before} if before else {})
        answer = api.get(path, params=params, headers=reader.auth)
        if answer.status_code != 200:
            raise UnexpectedAnswer(f"read {path}", answer)
        page = answer.json()
        items.extend(page["items"])
        before = page.get("next")
        if not before:
            break
    return items


def conversation(api: httpx.Client, reader: Member, peer: Member) -> list[dict[str, Any]]:
    answer = api.get(f"/v1/dms/{peer.handle}", params={"limit": 100}, headers=reader.auth)
    if answer.status_code != 200:
        raise UnexpectedAnswer("read a conversation", answer)
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def timeline_has(api: httpx.Client, reader: Member, post_id: int, within_s: float) -> bool:
    """Whether the post reaches the reader's home timeline within the time given (fan-out)."""

    def ids() -> set[int]:
        answer = api.get("/v1/timeline", params={"limit": 100}, headers=reader.auth)
        return (
            {int(p["id"]) for p in answer.json()["items"]} if answer.status_code == 200 else set()
        )

    _, arrived = eventually(ids, lambda seen: post_id in seen, within_s)
    return arrived


def eventually(
    probe: Callable[[], T],
    until: Callable[[T], bool],
    timeout_s: float = 10.0,
    every_s: float = 0.2,
) -> tuple[T, bool]:
    """Calls `probe` until `until(result)` holds or the deadline passes; the last result and
    whether it held (a check reports what it saw rather than stopping)."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = probe()
        if until(result):
            return result, True
        if time.monotonic() > deadline:
            return result, False
        time.sleep(every_s)
