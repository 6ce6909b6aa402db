"""The verdict of a run: each hypothesis of the scenario against what was observed.

`invalid` when a fault could not be shown to have taken effect (such a run proves nothing, so it
never passes); otherwise `pass` when every hypothesis held, else `fail`. A hypothesis whose
metric could not be observed (None) does not hold.

An open-loop load whose generator fell behind its schedule (`generator_behind`,
loadtest/schedule.py) is named in the verdict's reason. When it offered less than half the
rate the scenario asks for, or never had every user running, the run is `invalid`: its figures
describe another load. Behind by less (late arrivals over 1 %, or under 90 % of the rate
offered), the verdict stands with the warning beside it: the system met or missed its
hypotheses under a load close to the one claimed, and the reason says how far it fell short.

Run metrics besides the oracle counts:
- time_to_detect_s: from the first fault's start to the first sample that shows any breaker
  tripped (open, or half-open, which means it opened in between), or a replica ejected (a
  dependency the service reported in the sample before is gone while the service answers: a
  gateway that discovers replicas by name drops a dead one, often before any call to it fails);
  None if neither ever happened.
- time_to_recover_s: from the last fault's end to the first sample from which the run is healthy
  again: every breaker closed, and over the following `HEALTHY_WINDOW_S` seconds every breaker
  stays closed and the error rate stays under `HEALTHY_ERROR_RATE`; None if that never happens.
"""

from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from chaos.observation import Observation, Sample
from chaos.phases import PHASES, fault_span, phase_stats
from chaos.scenario import Hypothesis, Scenario
from loadtest import schedule
from loadtest.vocabulary import ORACLES, PhaseStats

Verdict = Literal["pass", "fail", "invalid"]
HEALTHY_ERROR_RATE = 0.01
HEALTHY_WINDOW_S = 5.0


@dataclass(frozen=True)
class HypothesisResult:
    name: str
    expect: str
    observed: float | None
    passed: bool
    metric: str
    phase: str


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    fault_applied: bool
    hypotheses: list[HypothesisResult]
    phases: dict[str, PhaseStats]
    run_metrics: dict[str, float | None]
    generator_behind: dict[str, Any] | None = None

    @property
    def reason(self) -> str:
        said = reason(self.verdict, [h.passed for h in self.hypotheses], self.fault_applied)
        if self.generator_behind is None:
            return said
        return f"{said}; generator_behind: {'; '.join(self.generator_behind['reasons'])}"


def reason(verdict: str, passed: list[bool], fault_applied: bool = True) -> str:
    """One sentence saying why the verdict is what it is."""
    if verdict == "invalid" and not fault_applied:
        return "a fault could not be shown to have taken effect: this run proves nothing"
    if verdict == "invalid":
        return "the load generator fell far behind the scenario's rate: this run proves nothing"
    failed = passed.count(False)
    if not failed:
        return f"all {len(passed)} hypotheses held"
    return f"{failed} of {len(passed)} hypotheses did not hold"


def generator_behind(obs: Observation) -> dict[str, Any] | None:
    """The `generator_behind` finding of the run's open loop (None: closed loop, or on
    schedule)."""
    if not obs.generator:
        return None
    return schedule.finding(schedule.figures(obs.generator))


def tripped(state: str) -> bool:
    return state != "closed"


def breaker_states(sample: Sample) -> Iterator[tuple[str, str, str]]:
    for service, dependencies in sample.breakers.items():
        for dependency, state in dependencies.items():
            yield service, dependency, state


def time_to_detect(obs: Observation) -> float | None:
    span = fault_span(obs)
    if span is None:
        return None
    before: Sample | None = None
    for sample in sorted(obs.samples, key=lambda s: s.t):
        if sample.t >= span[0] and (
            any(tripped(s) for _, _, s in breaker_states(sample)) or ejected(before, sample)
        ):
            return sample.t - span[0]
        before = sample
    return None


def ejected(before: Sample | None, sample: Sample) -> bool:
    """A dependency of a service that answered both samples is gone from the second."""
    if before is None:
        return False
    return any(
        deps and set(before.breakers.get(service, {})) - set(deps)
        for service, deps in sample.breakers.items()
    )


class ErrorRates:
    """The share of errors among the requests sent in a time range, from the request records;
    from the samples when the observation has none. None when nothing was measured."""

    def __init__(self, obs: Observation) -> None:
        records = sorted(obs.requests, key=lambda r: r.t)
        self._times = [r.t for r in records]
        self._errors = [0]
        for r in records:
            self._errors.append(self._errors[-1] + (r.outcome == "error"))
        self._samples = [(s.t, s.error_rate) for s in obs.samples]

    def between(self, start: float, end: float) -> float | None:
        if self._times:
            lo, hi = bisect_left(self._times, start), bisect_left(self._times, end)
            return (self._errors[hi] - self._errors[lo]) / (hi - lo) if hi > lo else None
        rates = [rate for t, rate in self._samples if start <= t < end]
        return sum(rates) / len(rates) if rates else None


def time_to_recover(
    obs: Observation,
    error_rate: float = HEALTHY_ERROR_RATE,
    window_s: float = HEALTHY_WINDOW_S,
) -> float | None:
    span = fault_span(obs)
    if span is None:
        return None
    samples = sorted(obs.samples, key=lambda s: s.t)
    rates = ErrorRates(obs)
    for i, sample in enumerate(samples):
        if sample.t < span[1]:
            continue
        # The window is cut short by the end of the run, but must still say something.
        end = min(sample.t + window_s, obs.duration_s)
        if end - sample.t < min(1.0, window_s):
            break
        following = [s for s in samples[i:] if s.t < end]
        if any(tripped(state) for s in following for _, _, state in breaker_states(s)):
            continue
        rate = rates.between(sample.t, end)
        if rate is not None and rate < error_rate:
            return sample.t - span[1]
    return None


def run_metrics(obs: Observation) -> dict[str, float | None]:
    """The metrics of phase `run`: the final oracle counts (None when the audit did not report
    one) and the detection and recovery times."""
    metrics: dict[str, float | None] = {}
    for name in ORACLES:
        value = obs.oracles.get(name)
        metrics[name] = None if value is None else float(value)
    metrics["time_to_detect_s"] = time_to_detect(obs)
    metrics["time_to_recover_s"] = time_to_recover(obs)
    return metrics


def fault_applied(obs: Observation, scenario: Scenario | None = None) -> bool:
    """Every fault took effect, and (given the scenario) every planned fault was applied."""
    if scenario is not None and len(obs.faults) < len(scenario.method):
        return False
    return all(f.took_effect for f in obs.faults)


def observed(
    hypothesis: Hypothesis, phases: dict[str, PhaseStats], metrics: dict[str, float | None]
) -> float | None:
    if hypothesis.phase in PHASES:
        return phases[hypothesis.phase].metric(hypothesis.metric)
    return metrics.get(hypothesis.metric)


def judge(scenario: Scenario, obs: Observation) -> Judgement:
    phases = phase_stats(obs)
    metrics = run_metrics(obs)
    results = []
    for h in scenario.hypotheses:
        value = observed(h, phases, metrics)
        results.append(
            HypothesisResult(h.label, h.expect, value, h.holds(value), h.metric, h.phase)
        )
    applied = fault_applied(obs, scenario)
    behind = generator_behind(obs)
    verdict: Verdict
    if not applied or (behind is not None and behind["severity"] == "invalid"):
        verdict = "invalid"
    elif all(r.passed for r in results):
        verdict = "pass"
    else:
        verdict = "fail"
    return Judgement(verdict, applied, results, phases, metrics, behind)


def exit_code(verdict: str) -> int:
    """0 pass, 1 fail or invalid; 2 (usage or setup errors) is the CLI's."""
    return 0 if verdict == "pass" else 1
