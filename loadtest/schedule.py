"""Whether an open loop kept its schedule: each arrival's lateness (from its due time to the moment
its action started), the rate of arrivals actually offered, and each action's latency measured
twice, from the moment it started and from the moment it was due (coordinated omission
corrected, as wrk2 does: a generator that issues late hides the queue it fell into, so the
corrected latency adds that wait back).

One `Ledger` per Locust process; snapshots are plain dicts of counts and histograms, so the master
adds up its workers' (`merge`). `finding` turns one snapshot into the `generator_behind` finding.
"""

import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

LATE_TOLERANCE_S = 0.05  # an arrival issued later than this after its due time is late
LATE_SHARE_MAX = 0.01  # more late arrivals than this share: the generator fell behind
OFFERED_SHARE_MIN = 0.9  # offered less than this share of the rate: it fell behind
INVALID_SHARE = 0.5  # offered less than this share: the run's figures describe another load


def bucket(ms: float) -> int:
    """Locust's rounding of a latency: exact under 100 ms, then 2 significant digits."""
    value = round(ms)
    if value < 100:
        return max(0, value)
    if value < 1000:
        return round(value, -1)
    return round(value, -2)


class Histogram:
    """Counts by rounded milliseconds: bounded size, percentiles, added up across workers."""

    def __init__(self, counts: dict[int, int] | None = None) -> None:
        self.counts: Counter[int] = Counter(counts or {})

    def add(self, ms: float) -> None:
        self.counts[bucket(ms)] += 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def percentile(self, share: float) -> float | None:
        """The smallest bucket at or under which `share` of the values fall."""
        total = self.total
        if not total:
            return None
        wanted, seen = share * total, 0
        for value in sorted(self.counts):
            seen += self.counts[value]
            if seen >= wanted:
                return float(value)
        return float(max(self.counts))

    def figures(self) -> dict[str, float | None]:
        top = float(max(self.counts)) if self.counts else None
        return {"p50_ms": self.percentile(0.5), "p99_ms": self.percentile(0.99), "max_ms": top}

    def to_dict(self) -> dict[str, int]:
        return {str(k): v for k, v in sorted(self.counts.items())}

    @classmethod
    def of(cls, raw: dict[str, int] | None) -> "Histogram":
        return cls({int(k): int(v) for k, v in (raw or {}).items()})


class Ledger:
    """One process's open-loop accounting. Times are its clock's (monotonic) seconds.

    The steady window runs from the moment every user of the run is spawned (Locust's
    `spawning_complete`) to the end: the rate offered over it is what the run can claim; before
    it, users are still ramping up by design."""

    def __init__(self, rate: float = 0.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate  # the run's rate (all workers), actions/s
        self.clock = clock
        self.started = clock()
        self.steady_from: float | None = None
        self.ended: float | None = None
        self.arrivals = 0  # issued, dropped or withheld
        self.steady_arrivals = 0  # offered (issued or withheld) within the steady window
        self.dropped = 0
        self.withheld = 0  # not sent while a shed answer's Retry-After held the user back
        self.late = 0
        self.lateness = Histogram()  # ms from due to start, of every action started
        self.latency = Histogram()  # ms from the action's start to its end
        self.corrected = Histogram()  # ms from the action's due time to its end

    def steady(self) -> None:
        if self.steady_from is None:
            self.steady_from = self.clock()

    def end(self) -> None:
        if self.ended is None:
            self.ended = self.clock()

    def arrival(self, dropped: bool = False, withheld: bool = False) -> None:
        """An arrival came to be issued (or dropped, or withheld) now. A withheld arrival kept
        the schedule: the client chose not to send it (the system asked it to back off). A
        dropped one was not offered: the generator had too many actions in flight to send it
        (a tight loop of drops would otherwise look like a generator keeping up)."""
        self.arrivals += 1
        self.dropped += dropped
        self.withheld += withheld
        if self.steady_from is not None and self.ended is None and not dropped:
            self.steady_arrivals += 1

    def started_late(self, due: float, started: float) -> None:
        late_s = max(0.0, started - due)
        self.lateness.add(1000 * late_s)
        self.late += late_s > LATE_TOLERANCE_S

    def finished(self, due: float, started: float, ended: float) -> None:
        self.latency.add(1000 * (ended - started))
        self.corrected.add(1000 * (ended - due))

    def snapshot(self) -> dict[str, Any]:
        now = self.ended if self.ended is not None else self.clock()
        steady_s = None if self.steady_from is None else max(0.0, now - self.steady_from)
        ramp_s = None if self.steady_from is None else self.steady_from - self.started
        return {
            "rate": self.rate,
            "run_s": round(now - self.started, 3),
            "steady_s": None if steady_s is None else round(steady_s, 3),
            "ramp_s": None if ramp_s is None else round(ramp_s, 3),
            "arrivals": self.arrivals,
            "steady_arrivals": self.steady_arrivals,
            # each worker's own, added up by `merge` (the windows of workers overlap)
            "offered_rate": _per_s(self.steady_arrivals, steady_s),
            "dropped": self.dropped,
            "withheld": self.withheld,
            "late": self.late,
            "lateness": self.lateness.to_dict(),
            "latency": self.latency.to_dict(),
            "corrected": self.corrected.to_dict(),
        }


def _per_s(count: int, seconds: float | None) -> float | None:
    return round(count / seconds, 1) if seconds else None


def merge(snapshots: Iterable[dict[str, Any] | None]) -> dict[str, Any] | None:
    """The ledgers of several workers as one; None if none ran an open loop."""
    parts = [s for s in snapshots if s]
    if not parts:
        return None
    histograms = {k: Histogram() for k in ("lateness", "latency", "corrected")}
    for part in parts:
        for key, histogram in histograms.items():
            histogram.counts.update(Histogram.of(part.get(key)).counts)
    rates = [p["offered_rate"] for p in parts if p.get("offered_rate") is not None]
    steady = [p["steady_s"] for p in parts if p.get("steady_s") is not None]
    ramps = [p["ramp_s"] for p in parts if p.get("ramp_s") is not None]
    complete = len(steady) == len(parts)  # every worker spawned all its users
    return {
        "rate": max(float(p.get("rate") or 0.0) for p in parts),
        "run_s": max(float(p.get("run_s") or 0.0) for p in parts),
        "steady_s": min(float(s) for s in steady) if complete else None,
        "ramp_s": max(float(r) for r in ramps) if complete else None,
        "arrivals": sum(int(p.get("arrivals", 0)) for p in parts),
        "steady_arrivals": sum(int(p.get("steady_arrivals", 0)) for p in parts),
        "offered_rate": round(sum(float(r) for r in rates), 1) if complete else None,
        "dropped": sum(int(p.get("dropped", 0)) for p in parts),
        "withheld": sum(int(p.get("withheld", 0)) for p in parts),
        "late": sum(int(p.get("late", 0)) for p in parts),
        **{key: h.to_dict() for key, h in histograms.items()},
    }


def figures(ledger: dict[str, Any]) -> dict[str, Any]:
    """What a person reads of a (merged) ledger: counts, shares, lateness and both latencies."""
    lateness = Histogram.of(ledger.get("lateness"))
    started = lateness.total
    rate = float(ledger.get("rate") or 0.0)
    offered = ledger.get("offered_rate")
    return {
        "rate": rate,
        "offered_rate": offered,
        "offered_share": round(offered / rate, 3) if offered is not None and rate else None,
        "ramp_s": ledger.get("ramp_s"),
        "steady_s": ledger.get("steady_s"),
        "arrivals": ledger.get("arrivals", 0),
        "dropped": ledger.get("dropped", 0),
        "withheld": ledger.get("withheld", 0),
        "late": ledger.get("late", 0),
        "late_share": round(int(ledger.get("late", 0)) / started, 4) if started else 0.0,
        "late_tolerance_ms": round(1000 * LATE_TOLERANCE_S),
        "lateness": lateness.figures(),
        "latency": Histogram.of(ledger.get("latency")).figures(),
        "corrected_latency": Histogram.of(ledger.get("corrected")).figures(),
    }


def finding(shown: dict[str, Any]) -> dict[str, Any] | None:
    """`generator_behind` of a ledger's `figures`, or None when the generator kept its
    schedule. `severity` is `invalid` when it offered less than half its rate (the run's
    figures describe another load), else `warning`."""
    reasons: list[str] = []
    share = shown.get("offered_share")
    if shown.get("steady_s") is None:
        reasons.append("users were still spawning when the run ended")
    elif share is not None and share < OFFERED_SHARE_MIN:
        dropped = int(shown.get("dropped", 0))
        reasons.append(
            f"offered {shown['offered_rate']:g} actions/s of {shown['rate']:g} "
            f"({100 * share:.0f} % once every user had spawned"
            + (f"; {dropped} dropped with too many actions in flight)" if dropped else ")")
        )
    if shown.get("late_share", 0.0) > LATE_SHARE_MAX:
        lateness = shown["lateness"]
        reasons.append(
            f"{shown['late']} arrivals ({100 * shown['late_share']:.1f} %) issued more than "
            f"{shown['late_tolerance_ms']} ms late (lateness p50 {_ms(lateness['p50_ms'])}, "
            f"p99 {_ms(lateness['p99_ms'])}, max {_ms(lateness['max_ms'])})"
        )
    if not reasons:
        return None
    invalid = shown.get("steady_s") is None or (share is not None and share < INVALID_SHARE)
    return {"severity": "invalid" if invalid else "warning", "reasons": reasons} | {
        k: shown[k] for k in ("rate", "offered_rate", "offered_share", "late", "late_share")
    }


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} ms"
