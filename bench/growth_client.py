"""The growth benchmark's writer: members, follows, posts and DMs made through the gateway's
public API (the services' own write paths), many at once, each write retried when the
connection fails (posts and DMs carry an Idempotency-Key, so a retry never writes twice)."""

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

import httpx

from bench.seeded import Member

PASSWORD = "growth-bench-password"
CONCURRENCY = 16
ATTEMPTS = 4
T = TypeVar("T")
# About the length of a typical post and message (characters), with one hashtag per post as
# the load's personas write them.
POST_TEXT = "a post of some sixty characters, like most of them #growth{n}"
DM_TEXT = "a direct message of forty characters {n}"


class Chirp:
    """Writes through one gateway, at most `concurrency` at a time."""

    def __init__(self, client: httpx.AsyncClient, concurrency: int = CONCURRENCY) -> None:
        self.client = client
        self._limit = asyncio.Semaphore(concurrency)
        self._run = uuid.uuid4().hex[:8]  # handles and keys of this run's own
        self._registered = 0
        self._written = 0  # posts and DMs, for keys of their own

    async def _send(self, call: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response:
        async with self._limit:
            for attempt in range(ATTEMPTS):
                try:
                    answer = await call()
                except httpx.TransportError:
                    if attempt == ATTEMPTS - 1:
                        raise
                else:
                    if answer.status_code < 500 or attempt == ATTEMPTS - 1:
                        return answer
                await asyncio.sleep(0.2 * 2**attempt)
        raise AssertionError("unreachable")

    async def register(self, count: int, prefix: str = "g") -> list[Member]:
        names = [f"{prefix}{self._run}_{self._registered + n}" for n in range(count)]
        self._registered += count
        return list(await _all(self._register(name) for name in names))

    async def _register(self, handle: str) -> Member:
        body = {"handle": handle, "password": PASSWORD}
        answer = await self._send(lambda: self.client.post("/v1/users", json=body))
        if answer.status_code == 409:  # a retry whose first attempt had registered it
            answer = await self._send(lambda: self.client.post("/v1/sessions", json=body))
        _check(answer, "register")
        data = answer.json()
        return Member(int(data["id"]), handle, str(data["token"]))

    async def follow(self, pairs: Iterable[tuple[Member, Member]]) -> None:
        async def one(follower: Member, followee: Member) -> None:
            path = f"/v1/follows/{followee.handle}"
            answer = await self._send(lambda: self.client.put(path, headers=follower.auth))
            _check(answer, "follow")

        await _all(one(a, b) for a, b in pairs)

    def _numbers(self, count: int) -> range:
        first = self._written
        self._written += count
        return range(first, first + count)

    async def post(self, authors: Iterable[Member]) -> list[int]:
        """One post per author given (an author may come more than once); their ids."""

        async def one(n: int, author: Member) -> int:
            headers = author.auth | {"Idempotency-Key": f"{self._run}-p{n}"}
            body = {"text": POST_TEXT.format(n=n % 50)}
            answer = await self._send(
                lambda: self.client.post("/v1/posts", json=body, headers=headers)
            )
            _check(answer, "post")
            return int(answer.json()["id"])

        chosen = list(authors)
        numbers = self._numbers(len(chosen))
        return list(await _all(one(n, a) for n, a in zip(numbers, chosen, strict=True)))

    async def dm(self, pairs: Iterable[tuple[Member, Member]]) -> None:
        async def one(n: int, sender: Member, peer: Member) -> None:
            headers = sender.auth | {"Idempotency-Key": f"{self._run}-d{n}"}
            body = {"text": DM_TEXT.format(n=n)}
            answer = await self._send(
                lambda: self.client.post(f"/v1/dms/{peer.handle}", json=body, headers=headers)
            )
            _check(answer, "dm")

        chosen = list(pairs)
        numbers = self._numbers(len(chosen))
        await _all(one(n, a, b) for n, (a, b) in zip(numbers, chosen, strict=True))


def _check(answer: httpx.Response, what: str) -> None:
    if answer.status_code not in (200, 201, 202, 204):
        raise RuntimeError(f"{what}: {answer.status_code} {answer.text[:200]}")


async def _all(calls: Iterable[Awaitable[T]]) -> list[T]:
    return list(await asyncio.gather(*calls))
