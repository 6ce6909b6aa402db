"""What a run's process tells the agent: one JSON line per message, each with the run's faults as
the fault board lists them (source `scenario`, their deadline, whether they took effect), and
progress in the fields the state's `run` is made of."""

import io
import json
from pathlib import Path

from chaos.console.run_worker import Channel
from chaos.console.scenario_runs import RunState
from chaos.runner import Progress
from chaos.scenario import Kill, load_scenario
from chaos.scenario import catalogue as scenarios
from tests.unit.console_fakes import FakeBackend


def test_progress_lines_carry_the_runs_faults_and_become_its_state(tmp_path: Path) -> None:
    backend = FakeBackend(tmp_path)
    out = io.StringIO()
    channel = Channel(out)
    channel.applied = [backend.apply(Kill(fault="kill", target="timeline-1", at_s=20,
                                          duration_s=20))]  # fmt: skip
    channel.applied[0].verify()
    channel.progress(Progress("fault", 21.0, 49.0, None, ["kill timeline-1"]))
    channel.send(result={"verdict": "pass", "reason": "all held", "report": "r"})
    lines = out.getvalue().splitlines()
    first, last = json.loads(lines[0]), json.loads(lines[1])
    fault = first["faults"][0]
    assert fault["source"] == "scenario" and fault["took_effect"] is True
    assert fault["deadline"] == fault["started_at"] + 20
    assert first["progress"] == {"phase": "fault", "elapsed_s": 21.0, "left_s": 49.0,
                                 "active": ["kill timeline-1"]}  # fmt: skip
    state = RunState("id", load_scenario(scenarios()["timeline-outage"]), tmp_path, joined=True)
    state.take(first)
    assert (state.phase, state.active) == ("fault", ["kill timeline-1"])
    state.take(last)
    assert (state.phase, state.verdict, state.report) == ("done", "pass", "r")
