"""The words of the run contract, spelled once: the figures of a phase (summary.json `phases`),
the oracles' counts and measure (summary.json `oracles`), and how a percentile is taken. The
load, the chaos engine and the reports import them from here; this module imports none of them.
"""

import math
from collections.abc import Iterable
from typing import Self

from pydantic import BaseModel, ConfigDict


class Figures(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PhaseStats(Figures):
    """What the load saw in one phase. A figure that cannot be measured is None: the rates and
    percentiles of a phase without requests, the throughput of a phase of zero length."""

    requests: int
    rps: float | None
    error_rate: float | None
    degraded_rate: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None

    def metric(self, name: str) -> float | None:
        value: float | int | None = getattr(self, name)
        return None if value is None else float(value)

    def rounded(self, digits: int) -> Self:
        """The same figures rounded to `digits` decimals (the summary's precision)."""
        return self.model_copy(
            update={
                name: round(float(value), digits)
                for name, value in self.model_dump().items()
                if name != "requests" and value is not None
            }
        )


class OracleFigures(Figures):
    """The oracles' final counts (each anomaly once) and the worst staleness seen; None where the
    final audit did not report them."""

    lost_writes: int | None
    duplicate_writes: int | None
    dm_order_violations: int | None
    timeline_order_violations: int | None
    read_your_writes_violations: int | None
    max_staleness_s: float | None


PHASE_METRICS: tuple[str, ...] = tuple(PhaseStats.model_fields)
ORACLES: tuple[str, ...] = tuple(OracleFigures.model_fields)
MAX_STALENESS = "max_staleness_s"  # a measure, not a count of violations
ORACLE_COUNTS = tuple(name for name in ORACLES if name != MAX_STALENESS)
# Writes answered with a definite failure that took effect all the same: counted by the load's
# oracles (and among its violations), not a field of the chaos summary.
PHANTOM_WRITES = "phantom_writes"
VIOLATION_KINDS = (*ORACLE_COUNTS, PHANTOM_WRITES)
# Measured over the whole run by the chaos engine, beside the oracles.
RUN_TIMES = ("time_to_detect_s", "time_to_recover_s")
RUN_METRICS = (*ORACLES, *RUN_TIMES)


def percentile(values: Iterable[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100): the smallest value with at least q % of the values
    at or below it, so always a value that was measured; None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = math.ceil(q / 100 * len(ordered))
    return float(ordered[min(max(rank, 1), len(ordered)) - 1])


def percentile_or_nan(values: Iterable[float], q: float) -> float:
    """`percentile`, NaN for no values (for figures that are printed or plotted)."""
    found = percentile(values, q)
    return math.nan if found is None else found
