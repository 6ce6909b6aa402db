"""Whole chaos runs on the swarm stack: a rolling restart of timeline under a loop of reads loses
no request, and the catalogue's timeline-outage (written for compose's timeline-1 and
timeline-2) passes on swarm unchanged, with the replacements timed in its summary."""

import json
import time
from pathlib import Path

import pytest

from chaos.backends.swarm.driver import SwarmBackend
from chaos.runner import ChaosRun
from chaos.scenario import RollingRestart, load_scenario, resolve
from tests.e2e.swarm.conftest import SwarmStack
from tests.e2e.swarm.test_swarm_self_healing import ReadLoop

pytestmark = [pytest.mark.e2e, pytest.mark.swarm, pytest.mark.timeout(900)]


def test_a_rolling_restart_of_timeline_under_reads_loses_no_request(
    backend: SwarmBackend, swarm_stack: SwarmStack
) -> None:
    backend.engine.wait_converged("timeline")
    before = {t.id for t in backend.engine.running("timeline")}
    with ReadLoop(swarm_stack.gateway_url) as reads:
        time.sleep(3)
        fault = backend.apply(
            RollingRestart(fault="rolling-restart", target="timeline", at_s=0, duration_s=120)
        )
        fault.revert()  # waits until the update is over and every replica runs
        time.sleep(3)
    after = {t.id for t in backend.engine.running("timeline")}
    assert fault.took_effect, fault.evidence
    assert len(after) == 2 and not after & before  # every task replaced
    assert len(reads.statuses) > 50
    assert reads.failures() == []
    assert fault.window(0).figures["rolling_restart"]["tasks_replaced"] == 2


def test_timeline_outage_from_the_catalogue_passes_on_swarm(
    backend: SwarmBackend, tmp_path: Path
) -> None:
    scenario = load_scenario(resolve("timeline-outage"))
    result = ChaosRun(scenario, backend, "on", tmp_path).run()
    failed = [h for h in result.summary.hypotheses if not h.passed]
    assert result.summary.verdict == "pass", (result.judgement.reason, failed)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["backend"] == "swarm"
    assert summary["tasks_replaced"] == 2  # both killed timeline tasks came back
    assert [f["target"] for f in json.loads((tmp_path / "details.json").read_text())["faults"]] == [
        "timeline-1",
        "timeline-2",
    ]
