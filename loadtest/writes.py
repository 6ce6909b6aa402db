"""The writes of a run (posts and DMs) and what became of them: how each completed, which ones a
device may expect to read back, and the final audit that finds lost, duplicated, phantom and
misordered writes in what was read back after the load stopped."""

from collections import defaultdict
from dataclasses import dataclass

from loadtest.history import Event
from loadtest.readback import AuditPlan, FinalReads, Pair, pair, post_id_floor
from loadtest.tally import Tally

CREATED = 201
ACCEPTED = 202  # queued in the gateway's outbox: acknowledged, visible later


@dataclass
class Write:
    key: str
    f: str  # "post" or "dm"
    account: str
    device: str
    invoked: float
    peer: str | None = None
    outcome: str = "pending"  # then "ok", "fail" or "unknown"
    completed: float | None = None
    status: int = 0
    post_id: int | None = None
    seq: int | None = None

    @property
    def acknowledged(self) -> bool:
        return self.outcome == "ok"

    @property
    def visible_at_once(self) -> bool:
        """Created (201), not queued: its own device must be able to read it back at once."""
        return self.outcome == "ok" and self.status == CREATED

    def where(self) -> str:
        what = f"post {self.post_id}" if self.post_id is not None else self.f
        to = f" to {self.peer}" if self.peer else ""
        return f"{what} [k:{self.key}] by {self.account} on {self.device}{to}"


class WriteLog:
    def __init__(self) -> None:
        self.by_op: dict[int, Write] = {}
        self.by_key: dict[str, Write] = {}
        # created posts of each device, in the order they were acknowledged
        self.device_posts: dict[str, list[Write]] = defaultdict(list)
        # created DMs of each device, per conversation
        self.device_dms: dict[tuple[str, Pair], list[Write]] = defaultdict(list)
        # acknowledged posts no home timeline has shown yet: id -> acknowledgement time
        self.unseen_posts: dict[int, float] = {}
        self.counts = {"invoked": 0, "ok": 0, "accepted": 0, "fail": 0, "unknown": 0}
        self.audit = {"read_back": 0, "unverified": 0}
        self.audited = False

    def invoked(self, event: Event) -> None:
        value = event.value
        write = Write(
            key=str(value["key"]),
            f=event.f,
            account=event.account,
            device=event.device,
            invoked=event.time,
            peer=value.get("peer"),
        )
        self.by_op[event.op] = write
        self.by_key[write.key] = write
        self.counts["invoked"] += 1

    def completed(self, event: Event) -> None:
        write = self.by_op.get(event.op)
        if write is None:
            return
        write.outcome = event.type
        write.completed = event.time
        write.status = int(event.value.get("status") or 0)
        self.counts[event.type] += 1
        if event.type != "ok":
            return
        if write.status == ACCEPTED:
            self.counts["accepted"] += 1
        if write.f == "post":
            write.post_id = int(event.value["id"])
            self.unseen_posts[write.post_id] = event.time
            if write.status == CREATED:
                self.device_posts[write.device].append(write)
        else:
            seq = event.value.get("seq")
            write.seq = None if seq is None else int(seq)
            if write.status == CREATED and write.seq is not None:
                assert write.peer is not None
                self.device_dms[(write.device, pair(write.account, write.peer))].append(write)

    def close(self) -> None:
        """Writes never completed (the history ended first) count as unknown."""
        for write in self.by_key.values():
            if write.outcome == "pending":
                write.outcome = "unknown"
                self.counts["unknown"] += 1

    # -- the final audit ------------------------------------------------------------------------

    def plan(self) -> AuditPlan:
        plan = AuditPlan()
        for write in self.by_key.values():
            if write.f == "post":
                floor = post_id_floor(write.invoked)
                plan.authors[write.account] = min(plan.authors.get(write.account, floor), floor)
            elif write.peer is not None:
                plan.conversations.setdefault(pair(write.account, write.peer), write.account)
        return plan

    def check(self, final: FinalReads, tally: Tally, now: float) -> None:
        self.close()
        self.audited = True
        posts: dict[str, list[Write]] = defaultdict(list)
        dms: dict[Pair, list[Write]] = defaultdict(list)
        for write in self.by_key.values():
            if write.f == "post":
                posts[write.account].append(write)
            elif write.peer is not None:
                dms[pair(write.account, write.peer)].append(write)
        for author, writes in posts.items():
            found = final.posts.get(author)
            if found is None:
                self.audit["unverified"] += sum(w.acknowledged for w in writes)
                continue
            places: dict[str, list[int]] = defaultdict(list)
            for post_id, key in found:
                if key is not None:
                    places[key].append(post_id)
            for write in writes:
                self._check_one(write, places.get(write.key, []), write.post_id, tally, now)
        for conversation, writes in dms.items():
            messages = final.conversations.get(conversation)
            if messages is None:
                self.audit["unverified"] += sum(w.acknowledged for w in writes)
                continue
            self._check_conversation(conversation, messages, writes, tally, now)

    def _check_one(
        self, write: Write, places: list[int], acked_at: int | None, tally: Tally, now: float
    ) -> None:
        """`places` holds where the write was found (post ids or DM seqs); `acked_at` is where
        its acknowledgement said it would be (None: not said, e.g. a queued DM)."""
        if len(places) > 1:
            tally.add("duplicate_writes", write.key, f"{write.where()} found {len(places)} "
                      f"times (at {sorted(places)})", now)  # fmt: skip
        if write.acknowledged:
            self.audit["read_back"] += 1
            if not places:
                tally.add("lost_writes", write.key,
                          f"{write.where()} acknowledged ({write.status}), missing after the run",
                          now)  # fmt: skip
            elif write.f == "post" and acked_at is not None and acked_at not in places:
                tally.add("lost_writes", write.key,
                          f"{write.where()} acknowledged as {acked_at}, found only as {places}",
                          now)  # fmt: skip
        elif write.outcome == "fail" and places:
            tally.add("phantom_writes", write.key,
                      f"{write.where()} failed ({write.status}) but is there", now)  # fmt: skip

    def _check_conversation(
        self,
        conversation: Pair,
        messages: list[tuple[int, str | None]],
        writes: list[Write],
        tally: Tally,
        now: float,
    ) -> None:
        check_sequence(conversation, 0, messages, tally, now)
        places: dict[str, list[int]] = defaultdict(list)
        for seq, key in messages:
            if key is not None:
                places[key].append(seq)
        for write in writes:
            found = places.get(write.key, [])
            self._check_one(write, found, None, tally, now)
            if write.seq is not None and found and write.seq not in found:
                tally.add("dm_order_violations", ("moved", write.key),
                          f"{write.where()} acknowledged as seq {write.seq}, found at {found}",
                          now)  # fmt: skip
        check_real_time_order(conversation, writes, places, tally, now)


def check_sequence(
    conversation: Pair,
    after_seq: int,
    messages: list[tuple[int, str | None]],
    tally: Tally,
    now: float,
) -> None:
    """Messages after `after_seq` must be numbered after_seq+1, +2, ... with no gap and no
    inversion. The first anomaly of a read is counted (once, whoever sees it again)."""
    expected = after_seq + 1
    for seq, _ in messages:
        if seq != expected:
            what = "inversion" if any(s == expected for s, _ in messages) else "gap"
            tally.add("dm_order_violations", (conversation, expected, seq),
                      f"conversation {'/'.join(conversation)}: {what}, seq {seq} where "
                      f"{expected} was due", now)  # fmt: skip
            return
        expected += 1


def check_real_time_order(
    conversation: Pair,
    writes: list[Write],
    places: dict[str, list[int]],
    tally: Tally,
    now: float,
) -> None:
    """A message acknowledged before another was sent must come first in the conversation."""
    placed = [
        (w, min(places[w.key]))
        for w in writes
        if w.acknowledged and w.completed is not None and places.get(w.key)
    ]
    by_completion = sorted(placed, key=lambda item: item[0].completed or 0.0)
    highest_before = 0  # highest seq among messages acknowledged so far
    done = 0
    for write, seq in sorted(placed, key=lambda item: item[0].invoked):
        while done < len(by_completion) and (by_completion[done][0].completed or 0.0) < (
            write.invoked
        ):
            highest_before = max(highest_before, by_completion[done][1])
            done += 1
        if highest_before > seq:
            tally.add("dm_order_violations", ("inversion", write.key),
                      f"conversation {'/'.join(conversation)}: {write.where()} sent after seq "
                      f"{highest_before} was acknowledged, but got seq {seq}", now)  # fmt: skip
