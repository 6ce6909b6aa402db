"""Followers' home timelines watched from the outside: each follower's newest page polled
without pause, and the moment each post first showed on it. Degraded answers (a timeline built
on read) are not counted: they show a post without proving that it was fanned out."""

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from reliability.chirp_client import MAX_PAGES, Member

PAGE = 100
JOIN_TIMEOUT_S = 10.0


class HomeWatch:
    def __init__(self, base_url: str, readers: Sequence[Member], poll_s: float) -> None:
        self.base_url = base_url
        self.readers = list(readers)
        self.poll_s = poll_s
        # reader handle -> post id -> wall-clock time it was first seen
        self.first_seen: dict[str, dict[int, float]] = {r.handle: {} for r in self.readers}
        # per reader, so that no two threads add to one counter
        self.reads: dict[str, int] = dict.fromkeys(self.first_seen, 0)
        self.not_fresh: dict[str, int] = dict.fromkeys(self.first_seen, 0)
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._watch, args=(r,), name=f"watch-{r.handle}", daemon=True)
            for r in self.readers
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(JOIN_TIMEOUT_S)

    def seen_by_all(
        self, post_ids: Sequence[int], expected: Mapping[str, set[int]] | None = None
    ) -> bool:
        """Every reader has seen every post (or, with `expected`, the posts it lists for that
        reader: those of the authors the reader follows)."""
        return all(
            (set(post_ids) if expected is None else expected[handle]) <= set(seen)
            for handle, seen in list(self.first_seen.items())
        )

    def _watch(self, reader: Member) -> None:
        seen = self.first_seen[reader.handle]
        with httpx.Client(base_url=self.base_url, timeout=5) as api:
            while not self._stop.is_set():
                page = _fresh_page(api, reader, {"limit": PAGE})
                now = time.time()
                self.reads[reader.handle] += 1
                if page is None:
                    self.not_fresh[reader.handle] += 1
                else:
                    for item in page["items"]:
                        seen.setdefault(int(item["id"]), now)
                self._stop.wait(self.poll_s)


def whole_home_timeline(api: httpx.Client, reader: Member) -> list[int] | None:
    """Every post id of a home timeline, newest first, from fresh pages only (None if a page
    could only be had degraded or not at all)."""
    ids: list[int] = []
    before: int | None = None
    for _ in range(MAX_PAGES):
        page = _fresh_page(api, reader, {"limit": PAGE} | ({"before": before} if before else {}))
        if page is None:
            return None
        ids.extend(int(item["id"]) for item in page["items"])
        before = page.get("next")
        if not before:
            return ids
    return None


def _fresh_page(api: httpx.Client, reader: Member, params: dict[str, int]) -> dict[str, Any] | None:
    try:
        answer = api.get("/v1/timeline", params=params, headers=reader.auth)
    except httpx.HTTPError:
        return None
    if answer.status_code != 200 or "x-degraded" in answer.headers:
        return None
    body: dict[str, Any] = answer.json()
    return body


@dataclass(frozen=True)
class Visibility:
    delays_s: list[float]  # one per (post, follower) seen, from acknowledgement to first sight
    missing: int  # (post, follower) pairs never seen


def visibility(
    acknowledged: Mapping[int, float],
    first_seen: Mapping[str, Mapping[int, float]],
    expected: Mapping[str, set[int]] | None = None,
) -> Visibility:
    """`acknowledged`: post id -> when its author got the answer. A post seen before its answer
    arrived (fan-out outran the response) counts as seen at once. `expected`: the posts each
    reader should see (default: all)."""
    delays: list[float] = []
    missing = 0
    for handle, seen in first_seen.items():
        for post_id, acked_at in acknowledged.items():
            if expected is not None and post_id not in expected[handle]:
                continue
            at = seen.get(post_id)
            if at is None:
                missing += 1
            else:
                delays.append(max(0.0, at - acked_at))
    return Visibility(delays, missing)


def repeated(ids: Sequence[int]) -> int:
    """How many entries of a timeline repeat an id shown before."""
    return len(ids) - len(set(ids))
