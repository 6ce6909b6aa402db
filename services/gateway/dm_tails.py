"""What the gateway last read of each conversation from dms: the fallback of a DM read.

A reader polls a conversation with `after_seq` = the last seq it has, so its queries move on
with every new message; a fallback that kept each exact query would miss almost every poll.
Instead the gateway keeps, per conversation (both participants read the same messages), runs of
consecutive messages merged from every healthy answer: a run `start`..`end` holds every message
`start` + 1 .. `end`. Runs that touch or overlap become one; a conversation keeps at most
`TAIL_MESSAGES`, the newest.

What a stale answer claims: the messages with seq > `after_seq` that the gateway holds, in seq
order, consecutive from `after_seq` + 1 (at most `limit` of them; none when it holds nothing
after `after_seq`). Newer messages may exist that it has not seen. When no run reaches back to
`after_seq` (it is below the oldest run, or between two runs, where the gateway knows messages
exist that it does not hold) there is no answer: 503, as without a fallback.
"""

from dataclasses import dataclass
from typing import Any

import orjson

TAIL_MESSAGES = 200


@dataclass(frozen=True)
class Run:
    """Messages `start` + 1 .. `start` + len(items), each as its JSON bytes, in seq order."""

    start: int
    items: tuple[bytes, ...]

    @property
    def end(self) -> int:
        return self.start + len(self.items)


@dataclass(frozen=True)
class Tail:
    """A conversation's runs, oldest first, apart from each other (none touches the next)."""

    runs: tuple[Run, ...]

    def weight(self) -> int:
        return sum(len(item) for run in self.runs for item in run.items)

    def after(self, after_seq: int, limit: int) -> list[dict[str, Any]] | None:
        """The part of the tail a read of `after_seq` asks for, or None if none reaches it."""
        for run in self.runs:
            if run.start <= after_seq <= run.end:
                first = after_seq - run.start
                return [orjson.loads(item) for item in run.items[first : first + limit]]
        if self.runs and after_seq > self.runs[-1].end:
            return []
        return None


def run_of_answer(after_seq: int, content: bytes) -> Run | None:
    """A healthy answer as a run; None when its items are not `after_seq` + 1, + 2, ... (dms
    numbers a conversation's messages without gaps: such an answer is not one to build on)."""
    items = orjson.loads(content).get("items")
    if not isinstance(items, list):
        return None
    for offset, item in enumerate(items, start=1):
        if not isinstance(item, dict) or item.get("seq") != after_seq + offset:
            return None
    return Run(after_seq, tuple(orjson.dumps(item) for item in items))


def merged(kept: Tail | None, new: Run) -> Tail:
    """`new` added to what was kept, runs that touch or overlap joined, cut to the newest
    `TAIL_MESSAGES`. Messages never change, so where two runs hold a seq either is right."""
    runs = sorted([*(kept.runs if kept else ()), new], key=lambda run: run.start)
    joined: list[Run] = []
    for run in runs:
        if joined and run.start <= joined[-1].end:
            joined[-1] = _join(joined[-1], run)
        else:
            joined.append(run)
    excess = sum(len(run.items) for run in joined) - TAIL_MESSAGES
    while excess > 0:
        oldest = joined[0]
        if len(oldest.items) <= excess:
            joined.pop(0)
            excess -= len(oldest.items)
        else:
            joined[0] = Run(oldest.start + excess, oldest.items[excess:])
            excess = 0
    return Tail(tuple(run for run in joined if run.items or len(joined) == 1))


def _join(first: Run, second: Run) -> Run:
    """Two runs with `first.start` <= `second.start` <= `first.end`."""
    if second.end <= first.end:
        return first
    return Run(first.start, first.items + second.items[first.end - second.start :])
