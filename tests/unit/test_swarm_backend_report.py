"""An orchestrator's figures in summary.json, details.json and report.html: replacement times
(p50/max over the orchestrator's own replacements), tasks replaced, errors during a rolling
restart; a run without an orchestrator writes exactly the contract fields, as before; and a
replica ejected by the gateway's discovery counts as detection."""

import json
from pathlib import Path

from chaos.observation import FaultWindow, Observation, RequestRecord, Sample
from chaos.report.folder import report_run
from chaos.report.orchestrator import (
    replacement_times,
    rolling_restart_errors,
    rolling_restarts,
    tasks_replaced,
)
from chaos.verdict import time_to_detect
from tests.unit.observations import scenario, timeline_outage


def replaced(task: str, seconds: float, by: str = "orchestrator") -> dict[str, object]:
    return {"task": task, "kind": "kill", "seconds": seconds, "by": by}


def swarm_run() -> Observation:
    obs = timeline_outage()
    obs.backend = "swarm"
    obs.faults[0].figures = {"replaced": [replaced("timeline.1", 8.5)]}
    obs.faults[1].figures = {"replaced": [replaced("timeline.2", 12.5)]}
    obs.faults.append(
        FaultWindow("kill", "posts", 40, 50, True, "exited", "swarm",
                    figures={"replaced": [replaced("posts.1", 31.0, by="revert")]})
    )  # fmt: skip
    return obs


def test_replacement_times_are_over_the_orchestrator_own_replacements() -> None:
    times = replacement_times(swarm_run())
    assert times is not None
    assert (times.count, times.p50_s, times.max_s) == (2, 10.5, 12.5)  # not the revert's 31 s
    assert tasks_replaced(swarm_run()) == 3


def test_errors_during_a_rolling_restart_are_those_inside_its_window() -> None:
    obs = Observation("r", "swarm", "on", 60.0)
    obs.faults.append(
        FaultWindow("rolling-restart", "timeline", 10.0, 40.0, True, "", "swarm",
                    figures={"rolling_restart": {"service": "timeline", "tasks_replaced": 2,
                                                 "seconds": 29.5}})
    )  # fmt: skip
    outcomes = [(5.0, "error"), (12.0, "ok"), (20.0, "error"), (30.0, "degraded"), (41.0, "error")]
    obs.requests = [RequestRecord(t, "GET /v1/timeline", 10.0, o) for t, o in outcomes]  # type: ignore[arg-type]
    [rolling] = rolling_restarts(obs)
    assert (rolling.requests, rolling.errors, rolling.tasks_replaced) == (3, 1, 2)
    assert rolling_restart_errors(obs) == 1
    assert tasks_replaced(obs) == 2


def test_a_swarm_summary_carries_the_figures_and_the_report_shows_them(tmp_path: Path) -> None:
    report_run(scenario(), swarm_run(), tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["task_replacement_s"] == {"count": 2, "p50_s": 10.5, "max_s": 12.5}
    assert summary["tasks_replaced"] == 3
    assert "rolling_restart_errors" not in summary  # not measured: not written
    details = json.loads((tmp_path / "details.json").read_text())
    assert [r["task"] for r in details["replacements"]] == ["timeline.1", "timeline.2", "posts.1"]
    html = (tmp_path / "report.html").read_text()
    assert "<h2>Orchestrator</h2>" in html and "p50 10.5 s, max 12.5 s" in html


def test_a_run_without_an_orchestrator_writes_only_the_contract_fields(tmp_path: Path) -> None:
    report_run(scenario(), timeline_outage(), tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert not {"task_replacement_s", "tasks_replaced", "rolling_restart_errors"} & set(summary)
    assert "<h2>Orchestrator</h2>" not in (tmp_path / "report.html").read_text()


def replicas_sample(t: float, *replicas: str) -> Sample:
    deps = {"posts": "closed", "users": "closed", **{r: "closed" for r in replicas}}
    return Sample(t, 50.0, 0.0, 0.0, {"gateway": deps}, {})


def test_a_replica_the_gateway_ejects_by_discovery_counts_as_detection() -> None:
    # Swarm drops a dead task from tasks.timeline at once: the gateway forgets the replica
    # (its breaker with it) before any call fails, so no breaker ever opens.
    obs = timeline_outage()  # faults from 30 s
    obs.samples = [
        replicas_sample(float(t), *(() if 33 <= t < 45 else ("timeline-1", "timeline-2")))
        for t in range(90)
    ]
    assert time_to_detect(obs) == 3.0


def test_a_service_that_did_not_answer_ejects_nothing() -> None:
    obs = timeline_outage()
    obs.samples = [replicas_sample(float(t), "timeline-1", "timeline-2") for t in range(90)]
    obs.samples[35] = Sample(35.0, 50.0, 0.0, 0.0, {}, {})  # the gateway's /metrics timed out
    assert time_to_detect(obs) is None
