"""Made-up operation histories for the oracle tests, recorded through the real `History` with a
clock that only moves when told to."""

from typing import Any

from loadtest.history import Event, EventType, History, tagged
from loadtest.oracles import OracleReport, check
from loadtest.readback import FinalReads

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
        items: list[tuple[int, str | None]],
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
        items: list[tuple[int, str | None]],
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
