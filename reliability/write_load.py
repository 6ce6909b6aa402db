"""A write load for the reliability checks: threads that post (or send DMs) through the gateway
with idempotency keys, send a write of unknown outcome again with the same key, and record
every operation Jepsen-style in a loadtest `History`, so that the load test's own oracles and
final audit judge what was lost, duplicated or misordered.

Each lane is one thread writing its steps in turn, a write completed before the next begins:
the order of a lane's writes is real-time order, which DM checks rely on.
"""

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from loadtest.audit import run_audit
from loadtest.history import Event, EventType, History, outcome_of, tagged
from loadtest.oracles import OracleReport, Oracles
from loadtest.readback import FinalReads
from reliability.chirp_client import Member

WRITE_TIMEOUT_S = 5.0
ATTEMPTS = 5  # a write of unknown outcome is sent again, with its key, this many times at most
RETRY_PAUSE_S = 0.3
JOIN_TIMEOUT_S = ATTEMPTS * (WRITE_TIMEOUT_S + RETRY_PAUSE_S) + 5


@dataclass(frozen=True)
class Step:
    """One write of a lane: a post by `author`, or a DM from `author` to `peer`."""

    author: Member
    peer: Member | None = None


class RecordedHistory:
    """A `History` the lanes' threads share, and the events it recorded, in order."""

    def __init__(self) -> None:
        self.history = History()
        self.events: list[Event] = []
        self.history.subscribe(self.events.append)
        self._lock = threading.Lock()

    def new_key(self) -> str:
        with self._lock:
            return self.history.new_key()

    def invoke(self, f: str, account: str, device: str, value: dict[str, Any]) -> Event:
        with self._lock:
            return self.history.invoke(f, account, device, value)

    def complete(self, invoked: Event, type_: EventType, value: dict[str, Any]) -> Event:
        with self._lock:
            return self.history.complete(invoked, type_, value)

    def close(self) -> None:
        with self._lock:
            self.history.close()


@dataclass
class LaneLog:
    """What one lane wrote: acknowledged keys in the order they were sent."""

    name: str
    acknowledged: list[str] = field(default_factory=list)


class WriteLoad:
    def __init__(
        self,
        base_url: str,
        lanes: Sequence[Sequence[Step]],
        pause_s: float,
        recorded: RecordedHistory | None = None,
    ) -> None:
        self.base_url = base_url
        self.lanes = [list(lane) for lane in lanes]
        self.pause_s = pause_s
        self.recorded = recorded or RecordedHistory()
        self.logs = [LaneLog(f"lane-{i}") for i in range(len(self.lanes))]
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(i,), name=f"writer-{i}", daemon=True)
            for i in range(len(self.lanes))
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Asks every lane to stop after the write in hand, and waits (bounded) for them."""
        self._stop.set()
        deadline = time.monotonic() + JOIN_TIMEOUT_S
        for thread in self._threads:
            thread.join(max(0.1, deadline - time.monotonic()))
        self.recorded.close()

    def _run(self, index: int) -> None:
        steps, log = self.lanes[index], self.logs[index]
        with httpx.Client(base_url=self.base_url, timeout=WRITE_TIMEOUT_S) as api:
            turn = 0
            while not self._stop.is_set():
                key = write(api, self.recorded, steps[turn % len(steps)], log.name)
                if key is not None:
                    log.acknowledged.append(key)
                turn += 1
                self._stop.wait(self.pause_s)


def write(api: httpx.Client, recorded: RecordedHistory, step: Step, lane: str) -> str | None:
    """One write, sent until its outcome is known (or the attempts run out); returns its key
    when it was acknowledged (201, or 202 from an outbox)."""
    key = recorded.new_key()
    author = step.author
    text = tagged(f"reliability write by {author.handle}", key)
    value: dict[str, Any] = {"key": key, "text": text}
    if step.peer is None:
        f, path = "post", "/v1/posts"
    else:
        f, path = "dm", f"/v1/dms/{step.peer.handle}"
        value["peer"] = step.peer.handle
    invoked = recorded.invoke(f, author.handle, lane, value)
    status, body = 0, None
    for attempt in range(ATTEMPTS):
        if attempt:
            time.sleep(RETRY_PAUSE_S)
        status, body = _send(api, path, text, author.auth | {"Idempotency-Key": key})
        if outcome_of(status) != "unknown":
            break
    outcome = outcome_of(status)
    done: dict[str, Any] = {"status": status}
    if outcome == "ok":
        field_name = "id" if f == "post" else "seq"
        if isinstance(body, dict) and field_name in body:
            done[field_name] = body[field_name]
        else:
            outcome = "unknown"  # an answer without what it promises proves nothing
    recorded.complete(invoked, outcome, done)
    return key if outcome == "ok" else None


def _send(api: httpx.Client, path: str, text: str, headers: dict[str, str]) -> tuple[int, Any]:
    try:
        answer = api.post(path, json={"text": text}, headers=headers)
    except httpx.HTTPError:
        return 0, None
    try:
        return answer.status_code, answer.json()
    except ValueError:
        return answer.status_code, None


def audit(
    base_url: str,
    recorded: RecordedHistory,
    members: Sequence[Member],
    drain_timeout_s: float = 60.0,
    read_timeout_s: float = 60.0,
) -> tuple[OracleReport, FinalReads]:
    """The load test's final audit: wait for the gateway's outboxes to drain, read back every
    author's posts and every conversation, and let the oracles judge the history."""
    oracles = Oracles()
    for event in list(recorded.events):
        oracles.observe(event)
    tokens = {m.handle: m.token for m in members}
    final = run_audit(base_url, oracles.plan(), tokens, drain_timeout_s, read_timeout_s)
    oracles.finish(final)
    return oracles.report(), final


def write_counts(report: OracleReport) -> str:
    """The part of a figure that says how the writes went: acknowledged, 202, unknown."""
    writes = report.writes
    return (
        f"{writes.get('ok', 0)} acknowledged ({writes.get('accepted', 0)} answered 202), "
        f"{writes.get('unknown', 0)} unknown"
    )


def audit_gaps(report: OracleReport) -> list[str]:
    """Why the audit could not vouch for every acknowledged write (empty when it could)."""
    gaps = []
    if not report.audit.get("outbox_drained", True):
        gaps.append("the gateway's outboxes did not drain before the read-back")
    if unverified := report.audit.get("unverified", 0):
        gaps.append(f"{unverified} acknowledged writes could not be read back")
    return gaps
