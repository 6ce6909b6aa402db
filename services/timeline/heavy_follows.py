"""Which heavy accounts each reader follows, as this replica last heard it from users: the
lists whose posts a home-timeline read merges in (services/timeline/store.py).

Kept per reader for `fresh_s` and refreshed in the background once half that old, so a read
seldom waits for users; a list older than `fresh_s` is fetched before the read. When users
cannot answer, the read goes on without it (resilience on):

- a list is kept, however old: it is used, flagged `users=cached-heavy-follows`;
- none is kept: the home set alone, flagged `users=heavy-posts-missing` (the heavy accounts'
  posts are missing from the page, and the answer says so).

The kept lists are bounded by the ids they hold in all (`max_ids`), least recently read first
out. A follow or unfollow of a heavy account shows within `fresh_s`.
"""

import asyncio
import logging
import time

from services.common.downstream import Downstream
from services.common.errors import DependencyUnavailable
from services.common.memory_cache import LastGood
from services.common.metrics import ServiceMetrics

CACHED = ("users", "cached-heavy-follows")
MISSING = ("users", "heavy-posts-missing")
log = logging.getLogger("failwhale.timeline.heavy_follows")


class KeptLists:
    """Reader -> (fetched at, heavy accounts followed), least recently used out first once the
    lists hold more than `max_ids` ids (an empty list counts as one)."""

    def __init__(self, max_ids: int) -> None:
        self._lists: LastGood[int, tuple[float, list[int]]] = LastGood(
            max_ids, lambda kept: max(1, len(kept[1])), entry_overhead=0
        )

    def __len__(self) -> int:
        return len(self._lists)

    @property
    def ids(self) -> int:
        return self._lists.bytes

    def get(self, reader: int) -> tuple[float, list[int]] | None:
        return self._lists.get(reader)

    def put(self, reader: int, fetched_at: float, heavy: list[int]) -> None:
        self._lists.put(reader, (fetched_at, heavy))


class HeavyFollows:
    def __init__(
        self,
        users: Downstream,
        metrics: ServiceMetrics,
        fresh_s: float,
        max_ids: int,
        resilient: bool = True,
    ) -> None:
        self.users = users
        self.metrics = metrics
        self.fresh_s = fresh_s
        self.resilient = resilient
        self.kept = KeptLists(max_ids)
        self._refreshing: dict[int, asyncio.Task[None]] = {}

    async def of(self, reader: int) -> tuple[list[int], str | None]:
        """The heavy accounts the reader follows, and the degraded reason if the list is not
        users' current answer (None when it is)."""
        kept = self.kept.get(reader)
        now = time.monotonic()
        if kept is not None and now - kept[0] < self.fresh_s:
            if now - kept[0] >= self.fresh_s / 2:
                self._refresh_in_background(reader)
            return kept[1], None
        try:
            return await self._fetch(reader), None
        except DependencyUnavailable:
            if not self.resilient:
                raise
            if kept is not None:
                return kept[1], self._served(*CACHED)
            return [], self._served(*MISSING)

    async def close(self) -> None:
        for task in list(self._refreshing.values()):
            task.cancel()
        await asyncio.gather(*self._refreshing.values(), return_exceptions=True)

    def _served(self, dependency: str, fallback: str) -> str:
        self.metrics.series(self.metrics.fallbacks, dependency, fallback).inc()
        return f"{dependency}={fallback}"

    async def _fetch(self, reader: int) -> list[int]:
        asked_at = time.monotonic()
        answer = await self.users.request("GET", f"/internal/users/{reader}/heavy-following")
        heavy = [int(i) for i in answer.json()["items"]]
        self.kept.put(reader, asked_at, heavy)
        return heavy

    def _refresh_in_background(self, reader: int) -> None:
        if reader in self._refreshing:
            return
        task = asyncio.create_task(self._quietly(reader), name=f"heavy-follows-{reader}")
        self._refreshing[reader] = task
        task.add_done_callback(lambda _: self._refreshing.pop(reader, None))

    async def _quietly(self, reader: int) -> None:
        # A refresh is never a reader's request: its failure leaves the kept list as it was.
        try:
            await self._fetch(reader)
        except Exception as exc:
            log.debug("heavy follows not refreshed", extra={"reader": reader, "error": str(exc)})
