"""Reads through the gateway, with their fallbacks (docs/resilience.md):

- home timeline: the replicas in turn; all down, fan-out on read (the newest posts of the people
  you follow, asked of posts); that failing too, the last page served (stale). A replica's page
  flagged degraded (heavy accounts' posts served without users, docs/resilience.md) is relayed
  with its flags, counted, and never remembered as a last good page;
- a post: the last good answer, if the gateway has one;
- a user's posts, the home timeline: the last first page served, cut to the page asked for;
- a conversation: the part of its remembered tail the read asks for (`dm_tails`);
- trends: `services.gateway.trends`.

Only canonical answers are remembered: a post, a first page (no `before`), a conversation's tail.
A page further down (a `before` cursor, of which a client can make up as many as it likes) is
never kept, so no client can push the others' answers out; the store itself is bounded in bytes
(`last_good_bytes`).
"""

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import orjson
from starlette.responses import Response

from services.common.auth import User
from services.common.downstream import Downstream
from services.common.errors import DependencyUnavailable
from services.common.memory_cache import LastGood
from services.common.replicas import ReplicaSet
from services.gateway.degraded import HEADER, Degradations, degraded_response
from services.gateway.dm_tails import Run, Tail, merged, run_of_answer
from services.gateway.follows import FollowLists
from services.gateway.relay import relay

Call = Callable[[], Awaitable[httpx.Response]]
Remembered = bytes | Tail


def _weight(value: Remembered) -> int:
    return len(value) if isinstance(value, bytes) else value.weight()


def _conversation_key(one: int, other: int) -> tuple[str, int, int]:
    """The one key of a conversation's tail, whichever participant reads or writes."""
    return ("dms", min(one, other), max(one, other))


def first_page_cut(content: bytes, limit: int) -> dict[str, Any]:
    """A remembered first page as the first page of `limit` items: the same newest items, and a
    `next` cursor wherever items are left after them."""
    page: dict[str, Any] = orjson.loads(content)
    items = page.get("items") or []
    if len(items) > limit:
        return {"items": items[:limit], "next": items[limit - 1]["id"]}
    return page


class LastGoodReads:
    """Serves a read from its service, remembering the answer; serves the remembered answer,
    flagged, while the service is away."""

    def __init__(self, degradations: Degradations, resilient: bool, max_bytes: int) -> None:
        self.degradations = degradations
        self.resilient = resilient
        self.answers: LastGood[tuple[Any, ...], Remembered] = LastGood(max_bytes, _weight)

    async def read(
        self, key: tuple[Any, ...], dependency: str, fallback: str, call: Call
    ) -> Response:
        """One answer per key (a post by id)."""
        try:
            answer = await call()
        except DependencyUnavailable:
            remembered = self.answers.get(key) if self.resilient else None
            if not isinstance(remembered, bytes):
                raise
            reason = self.degradations.served(dependency, fallback)
            return degraded_response(orjson.loads(remembered), [reason])
        if self.resilient:
            self.answers.put(key, answer.content)
        return relay(answer)

    async def page(
        self, key: tuple[Any, ...], limit: int, before: int | None, dependency: str, call: Call
    ) -> Response:
        """A newest-first page: the first page is remembered under `key` whatever its limit, and
        served, cut to the limit asked, while the service is away; later pages are not kept."""
        try:
            answer = await call()
        except DependencyUnavailable:
            stale = self.stale_first_page(key, limit, dependency) if before is None else None
            if stale is None:
                raise
            return stale
        self.remember_first_page(key, before, answer.content)
        return relay(answer)

    def remember_first_page(self, key: tuple[Any, ...], before: int | None, content: bytes) -> None:
        if self.resilient and before is None:
            self.answers.put(key, content)

    def stale_first_page(
        self, key: tuple[Any, ...], limit: int, dependency: str
    ) -> Response | None:
        """The remembered first page, flagged `<dependency>=stale-cache`, if there is one."""
        remembered = self.answers.get(key) if self.resilient else None
        if not isinstance(remembered, bytes):
            return None
        reason = self.degradations.served(dependency, "stale-cache")
        return degraded_response(first_page_cut(remembered, limit), [reason])

    async def conversation(
        self, reader_id: int, peer_id: int, after_seq: int, limit: int, call: Call
    ) -> Response:
        """A DM read: every healthy answer adds to the conversation's tail; while dms is away
        the part of the tail this read asks for is served, flagged `dms=stale-cache`. Both
        participants read the same messages, so they share the tail (and only they reach it)."""
        key = _conversation_key(reader_id, peer_id)
        try:
            answer = await call()
        except DependencyUnavailable:
            kept = self.answers.get(key) if self.resilient else None
            items = kept.after(after_seq, limit) if isinstance(kept, Tail) else None
            if items is None:
                raise
            reason = self.degradations.served("dms", "stale-cache")
            return degraded_response({"items": items}, [reason])
        if self.resilient:
            new = run_of_answer(after_seq, answer.content)
            if new is not None:
                self._add_to_tail(key, new)
        return relay(answer)

    def message_sent(self, sender_id: int, peer_id: int, answer: Response) -> None:
        """A DM that dms numbered (201): its conversation's tail gains it, so a conversation
        written through the gateway has a tail before anyone has read it."""
        if not self.resilient or answer.status_code != 201:
            return
        message = orjson.loads(answer.body)
        seq = message.get("seq") if isinstance(message, dict) else None
        if isinstance(seq, int) and seq >= 1:
            key = _conversation_key(sender_id, peer_id)
            self._add_to_tail(key, Run(seq - 1, (orjson.dumps(message),)))

    def _add_to_tail(self, key: tuple[Any, ...], new: Run) -> None:
        kept = self.answers.get(key)
        self.answers.put(key, merged(kept if isinstance(kept, Tail) else None, new))


class TimelineReader:
    def __init__(
        self,
        replicas: ReplicaSet,
        users: Downstream,
        posts: Downstream,
        reads: LastGoodReads,
        degradations: Degradations,
        follow_lists_bytes: int,
    ) -> None:
        self.replicas = replicas
        self.posts = posts
        self.reads = reads
        self.degradations = degradations
        self.follows = FollowLists(users, follow_lists_bytes)

    async def page(self, user: User, token: str, limit: int, before: int | None) -> Response:
        params: dict[str, int] = {"limit": limit} | ({"before": before} if before else {})
        key = ("timeline", user.id)
        try:
            answer = await self.replicas.request(
                "GET", "/internal/timeline", user_token=token, params=params
            )
        except DependencyUnavailable:
            if not self.reads.resilient:
                raise
            return await self._without_replicas(user, key, limit, before)
        flagged = answer.headers.get(HEADER)
        if flagged:
            self._count_replica_fallbacks(flagged)
        else:
            self.reads.remember_first_page(key, before, answer.content)
        self.follows.warm(user.id)  # for fan-out on read, should the replicas die
        return relay(answer)

    def _count_replica_fallbacks(self, flagged: str) -> None:
        """A replica's page partly served by its own fallback (heavy accounts' posts without
        users' current list): relayed as it is, counted as the gateway's own fallbacks are."""
        for reason in flagged.split(","):
            dependency, _, fallback = reason.strip().partition("=")
            if dependency and fallback:
                self.degradations.served(dependency, fallback)

    async def _without_replicas(
        self, user: User, key: tuple[Any, ...], limit: int, before: int | None
    ) -> Response:
        try:
            body, reasons = await self._fan_out_on_read(user, limit, before)
            return degraded_response(body, reasons)
        except DependencyUnavailable:
            stale = None if before else self.reads.stale_first_page(key, limit, "timeline")
            if stale is None:
                raise
            return stale

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
