"""Checks of every read as it completes: pages newest first, DM sequences without gaps, a device
reading back its own writes, and two measures that are not violations (eventual consistency is
allowed): how stale one device's answer is against what the other device of the account had
already seen, and how long a post took to reach a home timeline."""

import math
from bisect import bisect_right
from collections import defaultdict
from typing import Any

from loadtest.history import Event
from loadtest.readback import Pair, pair
from loadtest.tally import Tally
from loadtest.writes import WriteLog, check_sequence

View = tuple[str, str]  # ("timeline", "") or ("dms", peer)


class Staleness:
    """Per account and view, each device's frontier: the newest item it has seen and when.
    A read is stale by how long another device of the account had already seen something newer
    than the newest item this read returned when it was sent."""

    def __init__(self) -> None:
        self._frontiers: dict[tuple[str, View], dict[str, list[tuple[int, float]]]] = defaultdict(
            dict
        )
        self.max_s = 0.0
        self.stale_reads = 0

    def observe(
        self, account: str, view: View, device: str, sent: float, answered: float, newest: int
    ) -> None:
        devices = self._frontiers[(account, view)]
        lag = 0.0
        for other, frontier in devices.items():
            if other == device:
                continue
            first_newer = bisect_right(frontier, (newest, math.inf))
            if first_newer < len(frontier) and frontier[first_newer][1] < sent:
                lag = max(lag, sent - frontier[first_newer][1])
        if lag > 0:
            self.stale_reads += 1
            self.max_s = max(self.max_s, lag)
        mine = devices.setdefault(device, [])
        if not mine or newest > mine[-1][0]:
            mine.append((newest, answered))

    def forget(self, account: str, view: View) -> None:
        """The view changed shape (a follow or unfollow): earlier frontiers no longer apply."""
        self._frontiers.pop((account, view), None)


class Visibility:
    """How long after its acknowledgement a post first showed up in a home timeline."""

    def __init__(self) -> None:
        self.samples: list[float] = []

    def summary(self) -> dict[str, float | int]:
        if not self.samples:
            return {"posts": 0, "p50_s": 0.0, "max_s": 0.0}
        ordered = sorted(self.samples)
        return {
            "posts": len(ordered),
            "p50_s": round(ordered[len(ordered) // 2], 3),
            "max_s": round(ordered[-1], 3),
        }


class ReadChecks:
    def __init__(self, writes: WriteLog, tally: Tally) -> None:
        self.writes = writes
        self.tally = tally
        self.staleness = Staleness()
        self.visibility = Visibility()
        # conversation -> seq -> key: what a seq holds never changes, whoever reads it
        self.messages: dict[Pair, dict[int, str]] = defaultdict(dict)
        self.message_seq: dict[str, tuple[Pair, int]] = {}
        self.checked = 0

    def observe(self, invoked: Event, done: Event) -> None:
        if done.type != "ok":
            return
        self.checked += 1
        if done.f == "read_timeline":
            self._timeline(invoked, done)
        elif done.f == "read_posts":
            self._user_posts(invoked, done)
        elif done.f == "read_dms":
            self._dms(invoked, done)
        elif done.f in ("follow", "unfollow"):
            self.staleness.forget(done.account, ("timeline", ""))

    def _timeline(self, invoked: Event, done: Event) -> None:
        ids = [int(i) for i in done.value.get("ids", [])]
        self._newest_first(invoked, done, ids, "home timeline")
        for post_id in ids:
            acked = self.writes.unseen_posts.pop(post_id, None)
            if acked is not None:
                self.visibility.samples.append(max(0.0, done.time - acked))
        if invoked.value.get("before") is None:
            newest = ids[0] if ids else 0
            self.staleness.observe(
                done.account, ("timeline", ""), done.device, invoked.time, done.time, newest
            )

    def _user_posts(self, invoked: Event, done: Event) -> None:
        items: list[list[Any]] = done.value.get("items", [])
        ids = [int(item[0]) for item in items]
        author = str(invoked.value["author"])
        self._newest_first(invoked, done, ids, f"posts of {author}")
        seen: dict[str, int] = {}
        for post_id, key in items:
            if key is None:
                continue
            if key in seen:
                self.tally.add("duplicate_writes", key,
                               f"posts of {author}: write {key} shown as {seen[key]} and "
                               f"{post_id} on one page", done.time)  # fmt: skip
            seen[key] = int(post_id)
        if author != done.account or done.value.get("degraded"):
            return
        # Read-your-writes: every post this device created before sending the read, in the
        # range the page covers, must be on it.
        before = invoked.value.get("before")
        upper = math.inf if before is None else int(before)
        floor = ids[-1] if ids and done.value.get("next") is not None else 0
        shown = set(ids)
        for write in self.writes.device_posts.get(done.device, []):
            if write.completed is None or write.completed >= invoked.time:
                continue
            assert write.post_id is not None
            if floor <= write.post_id < upper and write.post_id not in shown:
                self.tally.add("read_your_writes_violations", write.key,
                               f"{write.where()}: post {write.post_id} created, then missing "
                               f"from its author's page on the same device", done.time)  # fmt: skip

    def _dms(self, invoked: Event, done: Event) -> None:
        peer = str(invoked.value["peer"])
        after = int(invoked.value.get("after_seq", 0))
        limit = int(invoked.value.get("limit", 20))
        items = [(int(seq), key) for seq, key in done.value.get("items", [])]
        conversation = pair(done.account, peer)
        check_sequence(conversation, after, items, self.tally, done.time)
        known = self.messages[conversation]
        for seq, key in items:
            if key is None:
                continue
            if seq in known and known[seq] != key:
                self.tally.add("dm_order_violations", ("moved", conversation, seq),
                               f"conversation {'/'.join(conversation)}: seq {seq} held "
                               f"{known[seq]}, now {key}", done.time)  # fmt: skip
            elif key in self.message_seq and self.message_seq[key] != (conversation, seq):
                self.tally.add("duplicate_writes", key,
                               f"DM {key} shown at seq {self.message_seq[key][1]} and {seq}",
                               done.time)  # fmt: skip
            known.setdefault(seq, key)
            self.message_seq.setdefault(key, (conversation, seq))
        full = len(items) >= limit
        if not done.value.get("degraded"):
            self._dm_read_your_writes(invoked, done, conversation, after, items, full)
        if not full:
            newest = items[-1][0] if items else after
            self.staleness.observe(
                done.account, ("dms", peer), done.device, invoked.time, done.time, newest
            )

    def _dm_read_your_writes(
        self,
        invoked: Event,
        done: Event,
        conversation: Pair,
        after: int,
        items: list[tuple[int, str | None]],
        full: bool,
    ) -> None:
        upper = items[-1][0] if full and items else math.inf
        shown = dict(items)
        for write in self.writes.device_dms.get((done.device, conversation), []):
            if write.completed is None or write.completed >= invoked.time or write.seq is None:
                continue
            if after < write.seq <= upper and shown.get(write.seq) != write.key:
                self.tally.add("read_your_writes_violations", write.key,
                               f"{write.where()}: sent as seq {write.seq}, then read back on "
                               f"the same device as {shown.get(write.seq)}", done.time)  # fmt: skip

    def _newest_first(self, invoked: Event, done: Event, ids: list[int], what: str) -> None:
        before = invoked.value.get("before")
        bad = next((i for i in range(1, len(ids)) if ids[i] >= ids[i - 1]), None)
        if bad is not None:
            detail = f"{what} read by {done.account}: {ids[bad]} after {ids[bad - 1]}"
        elif before is not None and ids and ids[0] >= int(before):
            detail = f"{what} read by {done.account}: {ids[0]} on a page before {before}"
        else:
            return
        self.tally.add("timeline_order_violations", ("read", done.op), detail, done.time)
