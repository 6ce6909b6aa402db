"""The console's live charts, sampled by the Locust master once a second: requests by outcome
(ok, degraded, error) per second, the current p50/p95/p99, each breaker's state and the outbox
depths as the gateway's `/v1/status` reports them, and the oracles' violations so far. The whole
run is kept; a new run starts a new series.

Rates come from cumulative counts (Locust's statistics for requests and failures, the
Resilience snapshot for degraded answers) over the last few seconds: workers report to the master
every 3 s, so a rate over one second would swing between nothing and three seconds' worth.
"""

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

RATE_WINDOW_S = 6.0
MAX_POINTS = 24 * 3600  # a day at one point a second; older points are dropped beyond it
NOT_REQUESTS = ("ORACLE", "OPEN_LOOP")  # violations and dropped arrivals, logged as failures
PERCENTILES = (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
Point = dict[str, Any]


class Entry(Protocol):
    """What the sampler reads of a Locust `StatsEntry`."""

    @property
    def method(self) -> str | None: ...

    @property
    def num_requests(self) -> int: ...

    @property
    def num_failures(self) -> int: ...

    def get_current_response_time_percentile(self, percent: float) -> int | None: ...


class Stats(Protocol):
    """What the sampler reads of Locust's `RequestStats`."""

    @property
    def total(self) -> Entry: ...

    @property
    def entries(self) -> dict[tuple[str, str], Any]: ...


@dataclass(frozen=True)
class Counts:
    """Cumulative counts at one moment of a run."""

    requests: int
    errors: int
    degraded: int

    def went_back(self, earlier: "Counts") -> bool:
        return (
            self.requests < earlier.requests
            or self.errors < earlier.errors
            or self.degraded < earlier.degraded
        )


def counts(stats: Stats, snapshot: dict[str, Any]) -> Counts:
    """Requests and failures from Locust's statistics (without the oracles' and the open loop's
    entries, which are not requests), degraded answers from the Resilience snapshot."""
    requests, errors = stats.total.num_requests, stats.total.num_failures
    for entry in stats.entries.values():
        if entry.method in NOT_REQUESTS:
            requests -= entry.num_requests
            errors -= entry.num_failures
    degraded = sum(int(n) for n in snapshot.get("degraded", {}).values())
    return Counts(max(requests, 0), max(errors, 0), degraded)


def percentiles(stats: Stats) -> dict[str, float | None]:
    """Locust's current percentiles (its last ~10 s), in milliseconds; None before any request."""
    total = stats.total
    if not total.num_requests:
        return {name: None for name, _ in PERCENTILES}
    shown: dict[str, float | None] = {}
    for name, percent in PERCENTILES:
        value = total.get_current_response_time_percentile(percent)
        shown[name] = None if value is None else float(value)
    return shown


def gateway_state(status: dict[str, Any] | None) -> dict[str, Any]:
    """Breakers, outbox depths and the resilience setting from the gateway's `/v1/status`
    (nothing while the gateway does not answer)."""
    if status is None:
        return {"breakers": {}, "outbox": {}, "resilience": None}
    breakers = {str(d["name"]): str(d["breaker"]) for d in status.get("dependencies", [])}
    outbox = {str(k): v for k, v in (status.get("outbox_depth") or {}).items()}
    resilience = status.get("resilience")
    return {"breakers": breakers, "outbox": outbox, "resilience": resilience}


class Series:
    """The points of the current run, oldest first, and the counts its rates are taken from."""

    def __init__(self, window_s: float = RATE_WINDOW_S, max_points: int = MAX_POINTS) -> None:
        self.window_s = window_s
        self.points: deque[Point] = deque(maxlen=max_points)
        self._counts: deque[tuple[float, Counts]] = deque()

    def reset(self) -> None:
        self.points.clear()
        self._counts.clear()

    def rates(self, t: float, now: Counts) -> tuple[float, float, float]:
        """(ok, degraded, error) per second over the last `window_s`."""
        if self._counts and now.went_back(self._counts[-1][1]):
            self._counts.clear()  # Locust reset its statistics: a new run
        self._counts.append((t, now))
        while len(self._counts) > 2 and t - self._counts[1][0] >= self.window_s:
            self._counts.popleft()
        then, before = self._counts[0]
        if t - then <= 0:
            return 0.0, 0.0, 0.0
        span = t - then
        errors = (now.errors - before.errors) / span
        degraded = (now.degraded - before.degraded) / span
        answered = (now.requests - before.requests) / span
        return max(answered - errors - degraded, 0.0), degraded, errors

    def add(
        self,
        t: float,
        now: Counts,
        latency: dict[str, float | None],
        gateway: dict[str, Any],
        violations: int,
    ) -> Point:
        ok, degraded, error = self.rates(t, now)
        point: Point = {"t": round(t, 3), "ok": round(ok, 2), "degraded": round(degraded, 2)}
        point |= {"error": round(error, 2), **latency, **gateway, "violations": violations}
        self.points.append(point)
        return point

    def after(self, t: float) -> list[Point]:
        """The points later than `t` (all of them for a `t` before the series began)."""
        if not self.points or self.points[-1]["t"] <= t:
            return []
        return [p for p in self.points if p["t"] > t]


class Sampler:
    """Takes a point every second from Locust's statistics, the Resilience snapshot and the
    gateway's status; `reset` at each new run."""

    def __init__(
        self,
        stats: Callable[[], Stats | None],
        snapshot: Callable[[], dict[str, Any]],
        status: Callable[[], dict[str, Any] | None],
        clock: Callable[[], float],
        series: Series | None = None,
    ) -> None:
        self.stats, self.snapshot, self.status, self.clock = stats, snapshot, status, clock
        self.series = series or Series()

    def sample(self) -> Point | None:
        t = self.clock()  # the moment sampled, before the gateway is asked
        stats = self.stats()
        if stats is None:
            return None
        snap = self.snapshot()
        violations = int(snap.get("oracles", {}).get("violations", 0))
        gateway = gateway_state(self.status())
        return self.series.add(t, counts(stats, snap), percentiles(stats), gateway, violations)

    def reset(self) -> None:
        self.series.reset()

    def answer(self, after: float) -> dict[str, Any]:
        """The `/chaos/api/series` answer: the points after `after` and where to go on from."""
        points = self.series.after(after)
        return {"points": points, "next": points[-1]["t"] if points else after}
