"""The contract's words have one home (loadtest/vocabulary.py) and summary.json did not move when
they got it: the same keys in the same order with the same rounding, byte for byte, as the
summary written before (the golden below), and every copy that is left (the load's tally and
report, the plots' colours) agrees with the vocabulary."""

import dataclasses
import math
from pathlib import Path

import pytest

from chaos.report.plots import ORACLE_COLORS, ORACLE_LABELS
from chaos.report.summary import build_summary, write_summary
from chaos.scenario import Scenario
from chaos.verdict import judge
from loadtest.oracles import OracleReport
from loadtest.tally import KINDS
from loadtest.vocabulary import (
    ORACLES,
    PHASE_METRICS,
    RUN_METRICS,
    VIOLATION_KINDS,
    percentile,
    percentile_or_nan,
)
from tests.unit.observations import scenario, timeline_outage

GOLDEN = """{
  "scenario": "timeline-outage",
  "backend": "docker",
  "resilience": "on",
  "verdict": "pass",
  "fault_applied": true,
  "hypotheses": [
    {
      "name": "fault error_rate",
      "expect": "<= 0.05",
      "observed": 0.020755,
      "passed": true
    },
    {
      "name": "recovery p99_ms",
      "expect": "<= 800",
      "observed": 51.071815,
      "passed": true
    },
    {
      "name": "run lost_writes",
      "expect": "<= 0",
      "observed": 0.0,
      "passed": true
    }
  ],
  "phases": {
    "steady": {
      "requests": 1513,
      "rps": 50.433333,
      "error_rate": 0.001322,
      "degraded_rate": 0.0,
      "p50_ms": 7.571803,
      "p95_ms": 17.191118,
      "p99_ms": 22.589764
    },
    "fault": {
      "requests": 1590,
      "rps": 53.0,
      "error_rate": 0.020755,
      "degraded_rate": 0.527673,
      "p50_ms": 15.328418,
      "p95_ms": 58.404989,
      "p99_ms": 458.243976
    },
    "recovery": {
      "requests": 1511,
      "rps": 50.366667,
      "error_rate": 0.001985,
      "degraded_rate": 0.017869,
      "p50_ms": 7.883679,
      "p95_ms": 21.03328,
      "p99_ms": 51.071815
    }
  },
  "oracles": {
    "lost_writes": 0,
    "duplicate_writes": 1,
    "dm_order_violations": 0,
    "timeline_order_violations": 0,
    "read_your_writes_violations": 2,
    "max_staleness_s": 1.234568
  },
  "breakers": [
    {
      "service": "gateway",
      "dependency": "timeline-1",
      "opened_at_s": 31.0,
      "closed_at_s": 62.0
    },
    {
      "service": "gateway",
      "dependency": "timeline-2",
      "opened_at_s": 31.0,
      "closed_at_s": 62.0
    }
  ],
  "time_to_detect_s": 1.0,
  "time_to_recover_s": 2.0
}
"""


def test_summary_json_is_byte_for_byte_what_it_was(tmp_path: Path) -> None:
    obs = timeline_outage("on")
    plan = scenario(
        {"metric": "error_rate", "phase": "fault", "max": 0.05},
        {"metric": "p99_ms", "phase": "recovery", "max": 800},
        {"metric": "lost_writes", "max": 0},
    )
    obs.oracles = {"lost_writes": 0, "duplicate_writes": 1.0, "dm_order_violations": 0,
                   "timeline_order_violations": 0, "read_your_writes_violations": 2,
                   "max_staleness_s": 1.23456789}  # fmt: skip
    write_summary(tmp_path / "summary.json", build_summary(obs, judge(plan, obs)))
    assert (tmp_path / "summary.json").read_text() == GOLDEN


def test_the_vocabulary_spells_the_contract_names() -> None:
    assert PHASE_METRICS == ("requests", "rps", "error_rate", "degraded_rate", "p50_ms",
                             "p95_ms", "p99_ms")  # fmt: skip
    assert ORACLES == ("lost_writes", "duplicate_writes", "dm_order_violations",
                       "timeline_order_violations", "read_your_writes_violations",
                       "max_staleness_s")  # fmt: skip
    assert (*ORACLES, "time_to_detect_s", "time_to_recover_s") == RUN_METRICS


def test_the_loads_tally_and_report_count_every_violation_kind() -> None:
    assert KINDS == VIOLATION_KINDS
    report_fields = {f.name for f in dataclasses.fields(OracleReport)}
    assert set(ORACLES) | set(VIOLATION_KINDS) <= report_fields
    counted = OracleReport()
    for kind in VIOLATION_KINDS:
        setattr(counted, kind, 1)
    assert counted.violations == len(VIOLATION_KINDS)


def test_every_oracle_has_a_colour_and_a_label_in_the_plots() -> None:
    counts = [name for name in ORACLES if name != "max_staleness_s"]
    assert set(counts) <= set(ORACLE_COLORS) and set(VIOLATION_KINDS) <= set(ORACLE_LABELS)


def test_a_hypothesis_on_a_metric_outside_the_contract_is_refused_with_the_known_ones() -> None:
    data = scenario({"metric": "p99_ms", "phase": "fault", "max": 1}).model_dump()
    data["hypotheses"][0]["metric"] = "p999_ms"
    with pytest.raises(ValueError, match="no metric 'p999_ms': one of requests, rps"):
        Scenario.model_validate(data)


def test_one_percentile_nearest_rank_for_load_chaos_bench_and_reliability() -> None:
    # Rounding the rank (the benchmark's own function did) gave 2.0 here: 60 % of four values
    # is 2.4, and the nearest rank is the third.
    assert percentile([4.0, 1.0, 3.0, 2.0], 60) == 3.0
    assert percentile([float(v) for v in range(1, 101)], 99) == 99.0
    assert percentile([7.0], 0) == 7.0 and percentile([7.0], 100) == 7.0
    assert percentile([], 50) is None and math.isnan(percentile_or_nan([], 50))
