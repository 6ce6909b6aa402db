"""Scenario runs through the chaos agent, in process with a fake run: one at a time (a second is
a 409 problem), an unknown or unrunnable scenario a 422 with the reason, a stop that ends the run
with a verdict saying so, and the catalogue's refusals."""

import asyncio
from pathlib import Path

import pytest

from chaos.backends.base import Backend
from chaos.runner import Report
from chaos.scenario import Scenario
from tests.unit.console_fakes import AUTH, BlockingRun, FakeBackend, client, make_app, stack_http
from tests.unit.problems import assert_problem

pytestmark = pytest.mark.anyio


class Runs:
    def __init__(self) -> None:
        self.made: list[BlockingRun] = []
        self.args: list[tuple[str, str, Path]] = []

    def __call__(
        self, scenario: Scenario, backend: Backend, resilience: str, out: Path, report: Report
    ) -> BlockingRun:
        self.args.append((scenario.name, resilience, out))
        run = BlockingRun(scenario, report)
        self.made.append(run)
        return run


async def wait_phase(http: object, phase: str) -> dict[str, object]:
    for _ in range(200):
        run = (await http.get("/v1/state", headers=AUTH)).json()["run"]  # type: ignore[attr-defined]
        if run is not None and run["phase"] == phase:
            return dict(run)
        await asyncio.sleep(0.02)
    raise AssertionError(f"the run never reached {phase}: {run}")


async def test_one_run_at_a_time_then_stopped_with_a_verdict_saying_so(tmp_path: Path) -> None:
    runs = Runs()
    app = make_app(tmp_path, FakeBackend(tmp_path), run_factory=runs,
                   stack_http=stack_http(resilience="off", load="running"))  # fmt: skip
    async with client(app) as http:
        started = await http.post("/v1/runs", json={"scenario": "timeline-outage"}, headers=AUTH)
        assert started.status_code == 202, started.text
        run = started.json()
        assert run["scenario"] == "timeline-outage" and run["joined"] is True
        assert run["phase"] in ("starting", "steady")
        steady = await wait_phase(http, "steady")
        assert isinstance(steady["started_at"], float)
        second = await http.post("/v1/runs", json={"scenario": "baseline"}, headers=AUTH)
        assert_problem(second, 409, "conflict")
        assert "timeline-outage" in second.json()["detail"]
        stopped = await http.delete("/v1/runs/current", headers=AUTH)
        assert stopped.status_code == 200
        done = await wait_phase(http, "done")
        assert done["verdict"] == "invalid"
        assert "stopped by hand" in str(done["reason"])
        assert_problem(await http.delete("/v1/runs/current", headers=AUTH), 404)
        again = await http.post("/v1/runs", json={"scenario": "baseline"}, headers=AUTH)
        assert again.status_code == 202
        runs.made[-1].release.set()
        failed = await wait_phase(http, "error")
        assert "released without a result" in str(failed["error"])
    name, resilience, out = runs.args[0]
    assert (name, resilience) == ("timeline-outage", "off")  # the stack's own setting
    assert out.parent == tmp_path / "reports" and out.name.endswith("-timeline-outage")


async def test_an_unknown_or_unrunnable_scenario_is_a_422_with_its_reason(tmp_path: Path) -> None:
    backend = FakeBackend(tmp_path)
    backend.refuse["timeline-1"] = "no container for timeline-1 in compose project x"
    async with client(make_app(tmp_path, backend, run_factory=Runs())) as http:
        unknown = await http.post("/v1/runs", json={"scenario": "../etc"}, headers=AUTH)
        assert "no scenario" in str(assert_problem(unknown, 422)["detail"])
        refused = await http.post("/v1/runs", json={"scenario": "timeline-outage"}, headers=AUTH)
        assert "no container for timeline-1" in str(assert_problem(refused, 422)["detail"])
        healing = await http.post(
            "/v1/runs", json={"scenario": "swarm-task-kill-healing-off"}, headers=AUTH
        )
        assert "only an orchestrator" in str(assert_problem(healing, 422)["detail"])
        extra = await http.post("/v1/runs", json={"scenario": "baseline", "x": 1}, headers=AUTH)
        assert_problem(extra, 422)
        catalogue = (await http.get("/v1/catalogue", headers=AUTH)).json()["scenarios"]
    by_name = {s["name"]: s for s in catalogue}
    assert by_name["baseline"]["runnable"] is True and by_name["baseline"]["refusal"] is None
    outage = by_name["timeline-outage"]
    assert outage["runnable"] is False and "timeline-1" in outage["refusal"]
    assert {f["target"] for f in outage["faults"]} == {"timeline-1", "timeline-2"}
    assert all(h["metric"] for h in outage["hypotheses"])
    assert by_name["swarm-task-kill-healing-off"]["self_healing"] == "off"


async def test_a_run_needs_a_stack_that_says_its_resilience(tmp_path: Path) -> None:
    import httpx

    down = httpx.Client(transport=httpx.MockTransport(lambda _: httpx.Response(502)))
    async with client(make_app(tmp_path, FakeBackend(tmp_path), run_factory=Runs(),
                               stack_http=down)) as http:  # fmt: skip
        answer = await http.post("/v1/runs", json={"scenario": "baseline"}, headers=AUTH)
        state = (await http.get("/v1/state", headers=AUTH)).json()
    assert "does not say its resilience" in str(assert_problem(answer, 422)["detail"])
    assert state["resilience"] is None and state["load"] is None and state["run"] is None
