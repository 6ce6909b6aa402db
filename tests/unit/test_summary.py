"""summary.json against its contract (docs/reports.md), written out here on its own (not
imported from the code under test): exactly these keys, these types, nothing more; and the
breaker episodes it lists."""

import json
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, StrictBool, StrictFloat, StrictInt, StrictStr

from chaos import breakers
from chaos.observation import Observation
from chaos.report.summary import build_details, build_summary, read_summary, write_summary
from chaos.verdict import judge
from tests.unit.observations import gateway_sample, sample, scenario, timeline_outage

Number = StrictFloat | StrictInt


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Hypothesis(Contract):
    name: StrictStr
    expect: StrictStr
    observed: Number | None
    passed: StrictBool


class PhaseFigures(Contract):
    requests: StrictInt
    rps: Number | None
    error_rate: Number | None
    degraded_rate: Number | None
    p50_ms: Number | None
    p95_ms: Number | None
    p99_ms: Number | None


class Phases(Contract):
    steady: PhaseFigures
    fault: PhaseFigures
    recovery: PhaseFigures


class Oracles(Contract):
    lost_writes: StrictInt | None
    duplicate_writes: StrictInt | None
    dm_order_violations: StrictInt | None
    timeline_order_violations: StrictInt | None
    read_your_writes_violations: StrictInt | None
    max_staleness_s: Number | None


class Breaker(Contract):
    service: StrictStr
    dependency: StrictStr
    opened_at_s: Number
    closed_at_s: Number | None


class SummaryContract(Contract):
    scenario: StrictStr
    backend: StrictStr
    resilience: Literal["on", "off"]
    verdict: Literal["pass", "fail", "invalid"]
    fault_applied: StrictBool
    hypotheses: list[Hypothesis]
    phases: Phases
    oracles: Oracles
    breakers: list[Breaker]
    time_to_detect_s: Number | None
    time_to_recover_s: Number | None


HYPOTHESES = (
    {"metric": "error_rate", "phase": "fault", "max": 0.05},
    {"metric": "lost_writes", "max": 0, "name": "no acknowledged write is lost"},
    {"metric": "time_to_recover_s", "max": 10},
)


def written(tmp_path: Path, obs: Observation, faults: int = 1) -> dict[str, object]:
    summary = build_summary(obs, judge(scenario(*HYPOTHESES, faults=faults), obs))
    path = tmp_path / "summary.json"
    write_summary(path, summary)
    data: dict[str, object] = json.loads(path.read_text())
    return data


@pytest.mark.parametrize("resilience", ["on", "off"])
def test_summary_json_has_exactly_the_contract_fields_and_types(
    tmp_path: Path, resilience: str
) -> None:
    data = written(tmp_path, timeline_outage(resilience))
    assert list(data) == list(SummaryContract.model_fields)  # the contract's order, too
    parsed = SummaryContract.model_validate(data)
    assert parsed.scenario == "timeline-outage" and parsed.resilience == resilience
    assert [h.name for h in parsed.hypotheses] == [
        "fault error_rate", "no acknowledged write is lost", "run time_to_recover_s",
    ]  # fmt: skip
    assert parsed.phases.steady.requests > 1000
    assert parsed.oracles.lost_writes == 0


def test_summary_of_a_run_without_faults_keeps_every_field_with_nulls(tmp_path: Path) -> None:
    obs = timeline_outage()
    obs.faults = []
    data = written(tmp_path, obs, faults=0)
    parsed = SummaryContract.model_validate(data)
    assert parsed.phases.fault.requests == 0 and parsed.phases.fault.p99_ms is None
    assert (parsed.time_to_detect_s, parsed.time_to_recover_s) == (None, None)
    assert parsed.verdict == "fail"  # time_to_recover_s could not be observed


def test_oracle_counts_are_integers_and_null_when_the_audit_did_not_report(
    tmp_path: Path,
) -> None:
    obs = timeline_outage()
    obs.oracles = {"lost_writes": 2.0, "max_staleness_s": 4.25}
    oracles = SummaryContract.model_validate(written(tmp_path, obs)).oracles
    assert oracles.lost_writes == 2 and isinstance(oracles.lost_writes, int)
    assert oracles.duplicate_writes is None
    assert oracles.max_staleness_s == 4.25


def test_summary_reads_back_equal(tmp_path: Path) -> None:
    obs = timeline_outage()
    summary = build_summary(obs, judge(scenario(*HYPOTHESES), obs))
    write_summary(tmp_path / "summary.json", summary)
    assert read_summary(tmp_path / "summary.json") == summary


def test_details_hold_the_fault_evidence_the_contract_has_no_room_for() -> None:
    obs = timeline_outage()
    details = build_details(obs, judge(scenario(*HYPOTHESES), obs))
    assert details["faults"][0] == {
        "kind": "kill", "target": "timeline-1", "peer": None, "start_s": 30.0, "end_s": 60.0,
        "took_effect": True, "mechanism": "docker", "evidence": "timeline-1 exited (137)",
    }  # fmt: skip
    assert details["phases"]["fault"] == {"start_s": 30.0, "end_s": 60.0}
    assert details["oracles"]["phantom_writes"] == 0
    json.dumps(details)  # serialisable as it is


def episodes_of(*states: dict[str, str]) -> list[breakers.Episode]:
    obs = Observation("made-up", "local", "on", float(len(states)))
    obs.samples = [gateway_sample(float(t), s) for t, s in enumerate(states)]
    return breakers.episodes(obs)


def test_an_episode_runs_from_the_first_trip_to_the_first_close_across_half_open() -> None:
    found = episodes_of({}, {"posts": "open"}, {"posts": "half-open"}, {"posts": "open"}, {},
                        {"posts": "half-open"}, {})  # fmt: skip
    assert found == [
        breakers.Episode("gateway", "posts", 1.0, 4.0),
        breakers.Episode("gateway", "posts", 5.0, 6.0),  # seen half-open only: it had opened
    ]


def test_an_episode_still_open_at_the_end_has_no_close() -> None:
    found = episodes_of({}, {"dms": "open"}, {"dms": "open", "trends": "open"})
    assert found == [
        breakers.Episode("gateway", "dms", 1.0, None),
        breakers.Episode("gateway", "trends", 2.0, None),
    ]


def test_a_sample_that_does_not_mention_a_breaker_changes_nothing() -> None:
    obs = Observation("made-up", "local", "on", 5.0)
    obs.samples = [sample(0.0, posts="open"), sample(1.0), sample(2.0, posts="open")]
    obs.samples[1].breakers.clear()  # the gateway could not be asked
    obs.samples.append(sample(3.0))
    assert breakers.episodes(obs) == [breakers.Episode("gateway", "posts", 0.0, 3.0)]


def test_summary_lists_the_breaker_episodes_of_the_run(tmp_path: Path) -> None:
    parsed = SummaryContract.model_validate(written(tmp_path, timeline_outage()))
    assert [(b.service, b.dependency, b.opened_at_s, b.closed_at_s) for b in parsed.breakers] == [
        ("gateway", "timeline-1", 31.0, 62.0),
        ("gateway", "timeline-2", 31.0, 62.0),
    ]
