"""Reads through the gateway, with their fallbacks (DESIGN.md section 4):

- home timeline: the replicas in turn; all down, fan-out on read (the newest posts of the people
  you follow, asked of posts); that failing too, the last page served (stale);
- a post, a user's posts, a conversation: the last good answer, if the gateway has one;
- trends: an empty list, flagged `trends=unavailable`.
"""

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import orjson
from starlette.responses import Response

from services.common.auth import User
from services.common.downstream import Downstream
from services.common.errors import DependencyUnavailable
from services.common.replicas import ReplicaSet
from services.gateway.degraded import Degradations, degraded_response
from services.gateway.follows import FollowLists
from services.gateway.memory_cache import LastGood
from services.gateway.relay import relay

CACHE_ENTRIES = 20_000
Call = Callable[[], Awaitable[httpx.Response]]


class LastGoodReads:
    """Serves a read from its service, remembering the answer; serves the remembered answer,
    flagged, while the service is away."""

    def __init__(self, degradations: Degradations, resilient: bool) -> None:
        self.degradations = degradations
        self.resilient = resilient
        self.answers: LastGood[tuple[Any, ...], bytes] = LastGood(CACHE_ENTRIES)

    async def read(
        self, key: tuple[Any, ...], dependency: str, fallback: str, call: Call
    ) -> Response:
        try:
            answer = await call()
        except DependencyUnavailable:
            remembered = self.answers.get(key) if self.resilient else None
            if remembered is None:
                raise
            reason = self.degradations.served(dependency, fallback)
            return degraded_response(orjson.loads(remembered), [reason])
        if self.resilient:
            self.answers.put(key, answer.content)
        return relay(answer)


class TimelineReader:
    def __init__(
        self,
        replicas: ReplicaSet,
        users: Downstream,
        posts: Downstream,
        reads: LastGoodReads,
        degradations: Degradations,
    ) -> None:
        self.replicas = replicas
        self.posts = posts
        self.reads = reads
        self.degradations = degradations
        self.follows = FollowLists(users, CACHE_ENTRIES)

    async def page(self, user: User, token: str, limit: int, before: int | None) -> Response:
        params: dict[str, int] = {"limit": limit} | ({"before": before} if before else {})
        key = ("timeline", user.id, limit, before)
        try:
            answer = await self.replicas.request(
                "GET", "/internal/timeline", user_token=token, params=params
            )
        except DependencyUnavailable:
            if not self.reads.resilient:
                raise
            return await self._without_replicas(user, key, limit, before)
        self.reads.answers.put(key, answer.content)
        self.follows.warm(user.id)  # for fan-out on read, should the replicas die
        return relay(answer)

    async def _without_replicas(
        self, user: User, key: tuple[Any, ...], limit: int, before: int | None
    ) -> Response:
        try:
            body, reasons = await self._fan_out_on_read(user, limit, before)
            return degraded_response(body, reasons)
        except DependencyUnavailable:
            remembered = self.reads.answers.get(key)
            if remembered is None:
                raise
        reason = self.degradations.served("timeline", "stale-cache")
        return degraded_response(orjson.loads(remembered), [reason])

    async def _fan_out_on_read(
        self, user: User, limit: int, before: int | None
    ) -> tuple[dict[str, Any], list[str]]:
        reasons = [self.degradations.served("timeline", "fanout-on-read")]
        followed, remembered = await self.follows.of(user.id)
        if remembered:
            reasons.append(self.degradations.served("users", "cached-follows"))
        answer = await self.posts.request(
            "POST",
            "/internal/posts/by-authors",
            json={"authors": [user.id, *followed], "limit": limit, "before": before},
            idempotent=True,
        )
        body: dict[str, Any] = answer.json()
        return body, reasons


async def trends_or_nothing(
    trends: Downstream, degradations: Degradations, resilient: bool
) -> Response:
    try:
        return relay(await trends.request("GET", "/internal/trends"))
    except DependencyUnavailable:
        if not resilient:
            raise
    return degraded_response({"items": []}, [degradations.served("trends", "unavailable")])
