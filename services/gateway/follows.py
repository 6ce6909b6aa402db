"""Whom each reader follows, as the gateway last heard it from users, for fan-out on read (the
home timeline's fallback when every timeline replica is down).

Kept warm while people read their timelines: a healthy read starts, in the background, a fetch
of the reader's follow list when the gateway has none younger than `FRESH_S`. So when the
replicas die, fan-out on read is one hop (posts) instead of two (users, then posts), and the
degraded timeline costs about what the healthy one did (docs/performance.md); it also survives
users being down at the same time. A follow or unfollow made through the gateway drops the
reader's list at once, so people see their own follow changes; one made elsewhere shows within
`FRESH_S`.
"""

import asyncio
import logging
import time

from services.common.downstream import Downstream
from services.common.errors import DependencyUnavailable
from services.common.memory_cache import LastGood

FRESH_S = 60.0
# What a kept list costs per followed id: a pointer in the list and, past 256, the int itself.
BYTES_PER_ID = 40
log = logging.getLogger("failwhale.gateway.follows")


class FollowLists:
    def __init__(self, users: Downstream, max_bytes: int, fresh_s: float = FRESH_S) -> None:
        """The kept lists weigh at most `max_bytes`, and so do the times of recent changes."""
        self.users = users
        self.fresh_s = fresh_s
        self._lists: LastGood[int, tuple[float, list[int]]] = LastGood(
            max_bytes, lambda kept: BYTES_PER_ID * len(kept[1])
        )
        self._fetching: dict[int, asyncio.Task[None]] = {}
        self._changed: LastGood[int, float] = LastGood(max_bytes, lambda _: 0)

    async def of(self, user_id: int) -> tuple[list[int], bool]:
        """The user's follow list, and whether it is a remembered one served because users
        failed (a list younger than `fresh_s` is served as it is, not flagged)."""
        kept = self._lists.get(user_id)
        if kept is not None and time.monotonic() - kept[0] < self.fresh_s:
            return kept[1], False
        try:
            return await self._fetch(user_id), False
        except DependencyUnavailable:
            if kept is None:
                raise
            return kept[1], True

    def warm(self, user_id: int) -> None:
        """Fetch the list in the background unless a fresh one is kept or a fetch is on."""
        kept = self._lists.get(user_id)
        if kept is not None and time.monotonic() - kept[0] < self.fresh_s / 2:
            return
        if user_id in self._fetching:
            return
        task = asyncio.create_task(self._quietly(user_id), name=f"follows-{user_id}")
        self._fetching[user_id] = task
        task.add_done_callback(lambda _: self._fetching.pop(user_id, None))

    def forget(self, user_id: int) -> None:
        """The user's follows changed: the next fan-out asks users again (and a fetch that was
        on before the change keeps nothing)."""
        self._lists.drop(user_id)
        self._changed.put(user_id, time.monotonic())

    async def close(self) -> None:
        for task in list(self._fetching.values()):
            task.cancel()
        await asyncio.gather(*self._fetching.values(), return_exceptions=True)

    async def _fetch(self, user_id: int) -> list[int]:
        asked_at = time.monotonic()
        answer = await self.users.request("GET", f"/internal/users/{user_id}/following")
        followed = [int(i) for i in answer.json()["items"]]
        changed_at = self._changed.get(user_id)
        if changed_at is None or changed_at < asked_at:
            self._lists.put(user_id, (asked_at, followed))
        return followed

    async def _quietly(self, user_id: int) -> None:
        # A warm-up is never a user's request: its failure only leaves the list as it was.
        try:
            await self._fetch(user_id)
        except Exception as exc:
            log.debug("follow list not refreshed", extra={"user": user_id, "error": str(exc)})
