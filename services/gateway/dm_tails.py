"""The tail of each conversation as the gateway last read it from dms: the fallback of a DM read.

A reader polls a conversation with `after_seq` = the last seq it has, so its queries move on
with every new message; a fallback that kept each exact query would miss almost every poll.
Instead the gateway keeps, per reader and conversation, one run of consecutive messages
(`start` + 1 .. `end`, every message of that range, at most `TAIL_MESSAGES` of the newest), merged
from every healthy answer, and answers any `after_seq` from `start` on out of it.

What such a stale answer claims: the messages with seq > `after_seq` that the gateway holds, in
seq order, consecutive from `after_seq` + 1 (so at most `limit` of them, and none when it holds
nothing newer). Newer messages may exist that it has not seen. When the run does not reach back
to `after_seq` (`after_seq` < `start`) the gateway cannot say what follows `after_seq` without a
gap, so it has no answer (503, as before).
"""

from dataclasses import dataclass
from typing import Any

import orjson

TAIL_MESSAGES = 200


@dataclass(frozen=True)
class Tail:
    """Messages `start` + 1 .. `start` + len(items), each as its JSON bytes, in seq order."""

    start: int
    items: tuple[bytes, ...]

    @property
    def end(self) -> int:
        return self.start + len(self.items)

    def weight(self) -> int:
        return sum(len(item) for item in self.items)

    def after(self, after_seq: int, limit: int) -> list[dict[str, Any]] | None:
        """The part of the tail a read of `after_seq` asks for, or None if it does not reach."""
        if after_seq < self.start:
            return None
        first = after_seq - self.start
        return [orjson.loads(item) for item in self.items[first : first + limit]]


def tail_of_answer(after_seq: int, content: bytes) -> Tail | None:
    """A healthy answer as a tail; None when its items are not `after_seq` + 1, + 2, ... (dms
    numbers a conversation's messages without gaps: such an answer is not one to build on)."""
    items = orjson.loads(content).get("items")
    if not isinstance(items, list):
        return None
    for offset, item in enumerate(items, start=1):
        if not isinstance(item, dict) or item.get("seq") != after_seq + offset:
            return None
    return Tail(after_seq, tuple(orjson.dumps(item) for item in items))


def merged(kept: Tail | None, new: Tail) -> Tail:
    """`new` added to what was kept: one run if they touch or overlap, else the newer of the two;
    cut to the newest `TAIL_MESSAGES`. Messages never change, so where both hold a seq either is
    right."""
    if kept is None:
        tail = new
    elif not new.items:
        tail = kept  # says nothing about any message
    elif new.start <= kept.end and kept.start <= new.end:
        start = min(kept.start, new.start)
        end = max(kept.end, new.end)
        by_seq = {kept.start + i: item for i, item in enumerate(kept.items, start=1)}
        by_seq.update({new.start + i: item for i, item in enumerate(new.items, start=1)})
        tail = Tail(start, tuple(by_seq[seq] for seq in range(start + 1, end + 1)))
    else:
        tail = new if new.end > kept.end else kept
    if len(tail.items) > TAIL_MESSAGES:
        cut = len(tail.items) - TAIL_MESSAGES
        tail = Tail(tail.start + cut, tail.items[cut:])
    return tail
