"""Made-up operation histories for the oracle tests, recorded through the real `History` with a
clock that only moves when told to."""

from collections.abc import Sequence
from typing import Any

from loadtest.history import Event, EventType, History, tagged
from loadtest.oracles import OracleReport, check
from loadtest.readback import FinalReads, pair

START = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


class Scenario:
    def __init__(self) -> None:
        self.clock = Clock()
        self.history = History(clock=self.clock)
        self.events: list[Event] = []
        self.history.subscribe(self.events.append)
        self._counter = 0

    def tick(self, seconds: float = 0.01) -> None:
        self.clock.now += seconds

    def post_id(self) -> int:
        self._counter += 1
        return int(self.clock.now * 1000) * 1024 + self._counter

    # -- writes ---------------------------------------------------------------------------------

    def post(
        self,
        account: str,
        device: str = "1/1",
        status: int = 201,
        outcome: EventType = "ok",
        post_id: int | None = None,
    ) -> tuple[str, int]:
        """A post: invoked, then completed; returns its key and id."""
        key = self.history.new_key()
        invoked = self.history.invoke(
            "post", account, device, {"key": key, "text": tagged("hello", key)}
        )
        self.tick()
        chosen = post_id if post_id is not None else self.post_id()
        value: dict[str, Any] = {"status": status}
        if outcome == "ok":
            value["id"] = chosen
        self.history.complete(invoked, outcome, value)
        self.tick()
        return key, chosen

    def dm(
        self,
        account: str,
        peer: str,
        seq: int | None,
        device: str = "1/1",
        status: int = 201,
        outcome: EventType = "ok",
    ) -> str:
        key = self.history.new_key()
        invoked = self.history.invoke(
            "dm", account, device, {"key": key, "peer": peer, "text": tagged("hi", key)}
        )
        self.tick()
        value: dict[str, Any] = {"status": status}
        if outcome == "ok":
            value["seq"] = seq
        self.history.complete(invoked, outcome, value)
        self.tick()
        return key

    def follow(self, account: str, handle: str, device: str = "1/1") -> None:
        invoked = self.history.invoke("follow", account, device, {"handle": handle})
        self.tick()
        self.history.complete(invoked, "ok", {"status": 204})
        self.tick()

    # -- reads ----------------------------------------------------------------------------------

    def read_timeline(
        self,
        account: str,
        ids: list[int],
        device: str = "1/1",
        before: int | None = None,
        degraded: bool = False,
        took: float = 0.01,
    ) -> None:
        invoked = self.history.invoke(
            "read_timeline", account, device, {"before": before, "limit": 20}
        )
        self.tick(took)
        self.history.complete(
            invoked, "ok", {"status": 200, "degraded": degraded, "ids": ids, "next": None}
        )
        self.tick()

    def read_posts(
        self,
        account: str,
        author: str,
        items: Sequence[tuple[int, str | None]],
        device: str = "1/1",
        next_id: int | None = None,
        before: int | None = None,
        degraded: bool = False,
    ) -> None:
        invoked = self.history.invoke(
            "read_posts", account, device, {"author": author, "before": before, "limit": 20}
        )
        self.tick()
        value = {
            "status": 200,
            "degraded": degraded,
            "items": [list(item) for item in items],
            "next": next_id,
        }
        self.history.complete(invoked, "ok", value)
        self.tick()

    def read_dms(
        self,
        account: str,
        peer: str,
        after_seq: int,
        items: Sequence[tuple[int, str | None]],
        device: str = "1/1",
        limit: int = 20,
        degraded: bool = False,
    ) -> None:
        invoked = self.history.invoke(
            "read_dms", account, device, {"peer": peer, "after_seq": after_seq, "limit": limit}
        )
        self.tick()
        value = {"status": 200, "degraded": degraded, "items": [list(i) for i in items]}
        self.history.complete(invoked, "ok", value)
        self.tick()

    def check(self, final: FinalReads | None = None) -> OracleReport:
        return check(self.events, final)


ZERO = {
    "lost_writes": 0,
    "duplicate_writes": 0,
    "dm_order_violations": 0,
    "timeline_order_violations": 0,
    "read_your_writes_violations": 0,
    "phantom_writes": 0,
}


def counts(report: OracleReport) -> dict[str, int]:
    return {kind: getattr(report, kind) for kind in ZERO}


def clean_run() -> tuple[Scenario, FinalReads]:
    """Two accounts posting, reading, following and chatting; everything as it should be."""
    s = Scenario()
    k1, p1 = s.post("ann", device="1/1")
    s.read_posts("ann", "ann", [(p1, k1)], device="1/1")
    k2, p2 = s.post("ann", device="1/2", status=202)  # queued: visible later
    s.read_posts("ann", "ann", [(p1, k1)], device="1/2")
    s.follow("bob", "ann", device="2/1")
    s.read_timeline("bob", [p2, p1], device="2/1")
    s.read_timeline("bob", [p2, p1], device="2/2")
    s.read_timeline("bob", [p1], device="2/1", before=p2)
    d1 = s.dm("ann", "bob", seq=1, device="1/1")
    s.read_dms("ann", "bob", 0, [(1, d1)], device="1/1")
    d2 = s.dm("bob", "ann", seq=None, device="2/1", status=202)
    d3 = s.dm("ann", "bob", seq=3, device="1/1")  # the queued DM was delivered as 2
    s.read_dms("bob", "ann", 0, [(1, d1), (2, d2), (3, d3)], device="2/2")
    s.read_dms("ann", "bob", 2, [(3, d3)], device="1/1")
    final = FinalReads(
        posts={"ann": [(p2, k2), (p1, k1)]},
        conversations={pair("ann", "bob"): [(1, d1), (2, d2), (3, d3)]},
    )
    return s, final
