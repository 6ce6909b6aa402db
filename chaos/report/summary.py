"""summary.json: the verdict and the figures of a run, with exactly the fields of the summary
contract in docs/reports.md (other tools read it), and details.json beside it for what the
contract has no room for (the fault windows with their evidence, the phase boundaries, the
notes of the run).

Oracle counts are integers, null when the final audit did not report them; every other figure
that could not be measured is null too, never a made-up zero.
"""

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from chaos import breakers
from chaos.observation import Observation
from chaos.phases import phase_spans
from chaos.report import orchestrator
from chaos.report.orchestrator import ReplacementTimes
from chaos.verdict import HEALTHY_ERROR_RATE, HEALTHY_WINDOW_S, Judgement
from loadtest.vocabulary import MAX_STALENESS, ORACLE_COUNTS, OracleFigures, PhaseStats

DIGITS = 6


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HypothesisSummary(Strict):
    name: str
    expect: str
    observed: float | None
    passed: bool


class Phases(Strict):
    steady: PhaseStats
    fault: PhaseStats
    recovery: PhaseStats


class BreakerEpisode(Strict):
    service: str
    dependency: str
    opened_at_s: float
    closed_at_s: float | None


class Summary(Strict):
    scenario: str
    backend: str
    resilience: Literal["on", "off"]
    verdict: Literal["pass", "fail", "invalid"]
    fault_applied: bool
    hypotheses: list[HypothesisSummary]
    phases: Phases
    oracles: OracleFigures
    breakers: list[BreakerEpisode]
    time_to_detect_s: float | None
    time_to_recover_s: float | None
    # On an orchestrator (null elsewhere): death to healthy replacement, tasks replaced, and
    # requests that failed during rolling restarts.
    task_replacement_s: ReplacementTimes | None = None
    tasks_replaced: int | None = None
    rolling_restart_errors: int | None = None


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), DIGITS)


def _count(value: float | None) -> int | None:
    return None if value is None else round(value)


def build_summary(obs: Observation, judgement: Judgement) -> Summary:
    m = judgement.run_metrics
    p = judgement.phases
    return Summary(
        scenario=obs.scenario,
        backend=obs.backend,
        resilience=_resilience(obs.resilience),
        verdict=judgement.verdict,
        fault_applied=judgement.fault_applied,
        hypotheses=[
            HypothesisSummary(
                name=h.name, expect=h.expect, observed=_round(h.observed), passed=h.passed
            )
            for h in judgement.hypotheses
        ],
        phases=Phases(**{name: stats.rounded(DIGITS) for name, stats in p.items()}),
        oracles=OracleFigures(
            **{name: _count(m[name]) for name in ORACLE_COUNTS},
            **{MAX_STALENESS: _round(m[MAX_STALENESS])},
        ),
        breakers=[
            BreakerEpisode(
                service=e.service,
                dependency=e.dependency,
                opened_at_s=round(e.opened_at_s, DIGITS),
                closed_at_s=_round(e.closed_at_s),
            )
            for e in breakers.episodes(obs)
        ],
        time_to_detect_s=_round(m["time_to_detect_s"]),
        time_to_recover_s=_round(m["time_to_recover_s"]),
        task_replacement_s=orchestrator.replacement_times(obs),
        tasks_replaced=orchestrator.tasks_replaced(obs),
        rolling_restart_errors=orchestrator.rolling_restart_errors(obs),
    )


def _resilience(value: str) -> Literal["on", "off"]:
    if value not in ("on", "off"):
        raise ValueError(f"resilience is on or off, not {value!r}")
    return "on" if value == "on" else "off"


def build_details(obs: Observation, judgement: Judgement) -> dict[str, Any]:
    """What the contract has no room for: how each fault really ran, where the phases begin and
    end, the health thresholds behind time_to_recover_s, the oracle counts beyond the contract
    ones (such as phantom writes), and the notes of the run."""
    return {
        "scenario": obs.scenario,
        "duration_s": obs.duration_s,
        "reason": judgement.reason,
        "generator_behind": judgement.generator_behind,
        "faults": [
            {
                "kind": f.kind,
                "target": f.target,
                "peer": f.peer,
                "start_s": _round(f.start_s),
                "end_s": _round(f.end_s),
                "took_effect": f.took_effect,
                "mechanism": f.mechanism,
                "evidence": f.evidence,
            }
            for f in obs.faults
        ],
        "phases": {
            name: {"start_s": _round(span.start_s), "end_s": _round(span.end_s)}
            for name, span in phase_spans(obs).items()
        },
        "healthy": {"error_rate_below": HEALTHY_ERROR_RATE, "for_s": HEALTHY_WINDOW_S},
        "oracles": {k: v for k, v in sorted(obs.oracles.items())},
        "replacements": [r.model_dump() for r in orchestrator.replacements(obs)],
        "rolling_restarts": [r.model_dump() for r in orchestrator.rolling_restarts(obs)],
        "notes": list(obs.notes),
    }


ORCHESTRATOR_FIELDS = ("task_replacement_s", "tasks_replaced", "rolling_restart_errors")


def write_summary(path: Path, summary: Summary) -> None:
    """The contract's fields, then the orchestrator's figures where the run measured them (a
    run without an orchestrator writes exactly the contract)."""
    data = summary.model_dump(mode="json")
    for name in ORCHESTRATOR_FIELDS:
        if data.get(name) is None:
            data.pop(name, None)
    path.write_text(json.dumps(data, indent=2) + "\n")


def read_summary(path: Path) -> Summary:
    return Summary.model_validate_json(path.read_text())
