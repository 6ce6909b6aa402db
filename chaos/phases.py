"""The phases of a run and what the load saw in each: steady before the first fault, fault from
the first fault's start to the last fault's end, recovery after it.

Phases come from the faults as they really happened (`Observation.faults`), not from the
scenario's plan. A run without faults (the baseline) is all steady: its fault and recovery phases
are empty spans at the end of the run, with zero requests and null rates and percentiles.

Every figure is computed exactly from the request records: a request belongs to the phase in
which it was sent, and percentiles are nearest-rank (always a latency that some request had).
A metric that cannot be computed is None: rates and percentiles of a phase without requests, the
throughput of a phase of zero length.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from chaos.observation import Observation, RequestRecord
from loadtest.vocabulary import PhaseStats, percentile

PHASES = ("steady", "fault", "recovery")


@dataclass(frozen=True)
class PhaseSpan:
    name: str
    start_s: float
    end_s: float

    @property
    def length_s(self) -> float:
        return max(0.0, self.end_s - self.start_s)


def fault_span(obs: Observation) -> tuple[float, float] | None:
    """From the first fault's start to the last fault's end; a fault never reverted ends with the
    run."""
    if not obs.faults:
        return None
    start = min(f.start_s for f in obs.faults)
    end = max(obs.duration_s if f.end_s is None else f.end_s for f in obs.faults)
    return start, max(start, end)


def phase_spans(obs: Observation) -> dict[str, PhaseSpan]:
    span = fault_span(obs)
    end = obs.duration_s
    if span is None:
        first, last = end, end
    else:
        first, last = min(span[0], end), min(span[1], end)
    return {
        "steady": PhaseSpan("steady", 0.0, first),
        "fault": PhaseSpan("fault", first, last),
        "recovery": PhaseSpan("recovery", last, end),
    }


LATE_GRACE_S = 1.0  # a load stops on its own timer, which starts a little after the run's clock


def phase_of(t: float, spans: dict[str, PhaseSpan]) -> str:
    """The phase a request sent at `t` belongs to; before 0 is steady, after the end recovery
    (steady when the run had no fault)."""
    if t < spans["steady"].end_s or spans["fault"].start_s == spans["recovery"].end_s:
        return "steady"
    if t < spans["fault"].end_s:
        return "fault"
    return "recovery"


def split_requests(obs: Observation) -> dict[str, list[RequestRecord]]:
    """The run's requests by phase; a request sent after the scenario's end (a load that did not
    stop on time) belongs to no phase, so it cannot swell the recovery's rate."""
    spans = phase_spans(obs)
    split: dict[str, list[RequestRecord]] = {name: [] for name in PHASES}
    for record in obs.requests:
        if record.t <= obs.duration_s + LATE_GRACE_S:
            split[phase_of(record.t, spans)].append(record)
    return split


def stats_of(records: Iterable[RequestRecord], length_s: float) -> PhaseStats:
    records = list(records)
    n = len(records)
    latencies = [r.latency_ms for r in records]
    errors = sum(1 for r in records if r.outcome == "error")
    degraded = sum(1 for r in records if r.outcome == "degraded")
    return PhaseStats(
        requests=n,
        rps=n / length_s if length_s > 0 else None,
        error_rate=errors / n if n else None,
        degraded_rate=degraded / n if n else None,
        p50_ms=percentile(latencies, 50),
        p95_ms=percentile(latencies, 95),
        p99_ms=percentile(latencies, 99),
    )


def phase_stats(obs: Observation) -> dict[str, PhaseStats]:
    spans = phase_spans(obs)
    split = split_requests(obs)
    return {name: stats_of(split[name], spans[name].length_s) for name in PHASES}


def stats_by_request(obs: Observation) -> dict[str, dict[str, PhaseStats]]:
    """Per request name (as the load groups them), the stats of each phase: which parts of the
    app a fault reached, and which ones it spared."""
    spans = phase_spans(obs)
    grouped: dict[str, dict[str, list[RequestRecord]]] = {}
    for record in obs.requests:
        phases = grouped.setdefault(record.name, {name: [] for name in PHASES})
        phases[phase_of(record.t, spans)].append(record)
    return {
        name: {p: stats_of(phases[p], spans[p].length_s) for p in PHASES}
        for name, phases in sorted(grouped.items())
    }
