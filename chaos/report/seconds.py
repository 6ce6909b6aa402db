"""The load second by second: the request records in 1 s buckets (by the time each request was
sent), with the outcomes counted and the exact percentiles of each bucket, for the plots."""

import math
from dataclasses import dataclass

from chaos.observation import Observation
from loadtest.vocabulary import percentile


@dataclass(frozen=True)
class Seconds:
    """Per-second buckets of the request records: bucket i holds requests sent in [i, i+1)."""

    t: list[float]
    ok: list[int]
    degraded: list[int]
    errors: list[int]
    p50: list[float]
    p95: list[float]
    p99: list[float]

    def rate(self, counts: list[int]) -> list[float]:
        totals = [o + d + e for o, d, e in zip(self.ok, self.degraded, self.errors, strict=True)]
        return [c / n if n else math.nan for c, n in zip(counts, totals, strict=True)]


def per_second(obs: Observation) -> Seconds:
    n = max(1, math.ceil(obs.duration_s))
    buckets: list[list[tuple[float, str]]] = [[] for _ in range(n)]
    for r in obs.requests:
        buckets[min(max(int(r.t), 0), n - 1)].append((r.latency_ms, r.outcome))
    latencies = [sorted(lat for lat, _ in b) for b in buckets]

    def pct(q: float) -> list[float]:
        return [math.nan if not lat else (percentile(lat, q) or 0.0) for lat in latencies]

    return Seconds(
        t=[float(i) for i in range(n)],
        ok=[sum(1 for _, o in b if o == "ok") for b in buckets],
        degraded=[sum(1 for _, o in b if o == "degraded") for b in buckets],
        errors=[sum(1 for _, o in b if o == "error") for b in buckets],
        p50=pct(50),
        p95=pct(95),
        p99=pct(99),
    )
