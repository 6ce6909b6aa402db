"""The operation history of a load run, in the manner of Jepsen: every operation is first
*invoked*, then completes as `ok`, `fail` (it certainly did not happen) or `unknown` (a timeout,
a dropped connection, a 5xx: it may or may not have happened). Kept as JSON lines, so that a run
can be checked again after the fact.

Operations (`f`) and their values:

| f | invoke value | completion value |
|---|---|---|
| post | key, text | status, id |
| dm | key, peer, text | status, seq (null while queued) |
| follow, unfollow | handle | status |
| read_timeline | before, limit | status, degraded, ids, next |
| read_posts | author, before, limit | status, degraded, items [[id, key]], next |
| read_dms | peer, after_seq, limit | status, degraded, items [[seq, key]] |

`key` is the write's idempotency key; the text of every write ends with `[k:<key>]`, so a read
shows which write each item came from.
"""

import json
import re
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO

EventType = Literal["invoke", "ok", "fail", "unknown"]
COMPLETIONS = ("ok", "fail", "unknown")
WRITES = ("post", "dm")
KEY_PATTERN = re.compile(r"\[k:([A-Za-z0-9._-]+)\]")


@dataclass(frozen=True, slots=True)
class Event:
    index: int
    op: int
    type: EventType
    f: str
    account: str
    device: str
    time: float
    value: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {
                "index": self.index,
                "op": self.op,
                "type": self.type,
                "f": self.f,
                "account": self.account,
                "device": self.device,
                "time": round(self.time, 6),
                "value": self.value,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, line: str) -> "Event":
        data = json.loads(line)
        return cls(
            index=int(data["index"]),
            op=int(data["op"]),
            type=data["type"],
            f=str(data["f"]),
            account=str(data["account"]),
            device=str(data["device"]),
            time=float(data["time"]),
            value=dict(data.get("value") or {}),
        )


def outcome_of(status: int) -> EventType:
    """What an answer says about whether a request took effect: 2xx it did; no answer (0), a
    5xx, a timeout or a conflict with an attempt still running may or may not have; any other
    4xx certainly did not."""
    if 200 <= status < 300:
        return "ok"
    if status == 0 or status >= 500 or status in (408, 409, 429):
        return "unknown"
    return "fail"


def key_in(text: str) -> str | None:
    """The idempotency key a load-test write carries in its text, if any."""
    found = KEY_PATTERN.search(text)
    return found.group(1) if found else None


def tagged(text: str, key: str) -> str:
    return f"{text} [k:{key}]"


class History:
    """Records events in order, hands each to its listeners (the live oracles) and, given a
    path, appends it to a JSON-lines file."""

    def __init__(self, path: Path | None = None, clock: Callable[[], float] = time.time) -> None:
        self.run_id = secrets.token_hex(4)
        self.clock = clock
        self.started = clock()
        self._next_op = 0
        self._next_index = 0
        self._pending: dict[int, Event] = {}
        self._listeners: list[Callable[[Event], None]] = []
        self._file: TextIO | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("w", encoding="utf-8")
        self.closed = False

    def subscribe(self, listener: Callable[[Event], None]) -> None:
        self._listeners.append(listener)

    def new_key(self) -> str:
        """An idempotency key no other write of any run uses."""
        self._next_op += 1
        return f"{self.run_id}.{self._next_op}"

    def invoke(self, f: str, account: str, device: str, value: dict[str, Any]) -> Event:
        self._next_op += 1
        event = self._record(self._next_op, "invoke", f, account, device, value)
        self._pending[event.op] = event
        return event

    def complete(self, invoked: Event, type_: EventType, value: dict[str, Any]) -> Event:
        if self._pending.pop(invoked.op, None) is None:
            raise ValueError(f"operation {invoked.op} is not in flight")
        return self._record(invoked.op, type_, invoked.f, invoked.account, invoked.device, value)

    def close(self) -> None:
        """Ends the history: operations still in flight complete as unknown."""
        if self.closed:
            return
        for invoked in list(self._pending.values()):
            self.complete(invoked, "unknown", {"status": 0, "error": "still in flight at the end"})
        self.closed = True
        if self._file is not None:
            self._file.close()

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    def _record(
        self, op: int, type_: EventType, f: str, account: str, device: str, value: dict[str, Any]
    ) -> Event:
        event = Event(self._next_index, op, type_, f, account, device, self.clock(), value)
        self._next_index += 1
        if self._file is not None and not self.closed:
            self._file.write(event.to_json() + "\n")
        for listener in self._listeners:
            listener(event)
        return event


def read_history(path: Path) -> Iterator[Event]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield Event.from_json(line)


def write_history(path: Path, events: Iterable[Event]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for event in events:
            out.write(event.to_json() + "\n")
