"""Scenario runs through the chaos agent, in process with a stand-in for the run's process: one
at a time (a second is a 409 problem), progress and the run's faults in the state, a stop that
ends the run with a verdict saying so, a process that ends without a result shown as an error,
an unknown or unrunnable scenario a 422 with the reason, and the catalogue's refusals."""

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from tests.unit.console_fakes import AUTH, FakeBackend, Spawned, client, make_app, stack_http
from tests.unit.problems import assert_problem

pytestmark = pytest.mark.anyio


async def wait_phase(http: httpx.AsyncClient, phase: str) -> dict[str, object]:
    run = None
    for _ in range(200):
        run = (await http.get("/v1/state", headers=AUTH)).json()["run"]
        if run is not None and run["phase"] == phase:
            return dict(run)
        await asyncio.sleep(0.02)
    raise AssertionError(f"the run never reached {phase}: {run}")


def scenario_fault(started_at: float) -> dict[str, object]:
    return {"id": "kill-timeline-1-abc", "fault": "kill", "target": "timeline-1", "params": {},
            "source": "scenario", "started_at": started_at, "deadline": started_at + 20,
            "ended_at": None, "left_s": 20, "took_effect": True, "evidence": "exited",
            "revert_evidence": ""}  # fmt: skip


async def test_one_run_at_a_time_with_its_progress_and_faults_then_stopped(
    tmp_path: Path,
) -> None:
    spawned = Spawned()
    app = make_app(tmp_path, FakeBackend(tmp_path), spawn=spawned,
                   stack_http=stack_http(resilience="on", load="running"))  # fmt: skip
    async with client(app) as http:
        started = await http.post("/v1/runs", json={"scenario": "timeline-outage"}, headers=AUTH)
        assert started.status_code == 202, started.text
        run = started.json()
        assert run["scenario"] == "timeline-outage" and run["joined"] is True
        assert run["phase"] == "starting" and run["started_at"] is None
        process = spawned.made[0]
        now = time.time()
        progress = {"phase": "fault", "elapsed_s": 21.0, "left_s": 49.0,
                    "active": ["kill timeline-1"]}  # fmt: skip
        process.say(progress=progress, faults=[scenario_fault(now)])
        fault = await wait_phase(http, "fault")
        assert fault["active"] == ["kill timeline-1"]
        assert isinstance(fault["started_at"], float) and 20 < now - fault["started_at"] < 23
        listed = (await http.get("/v1/state", headers=AUTH)).json()["faults"]
        assert [(f["id"], f["source"]) for f in listed] == [("kill-timeline-1-abc", "scenario")]
        owned = await http.delete("/v1/faults/kill-timeline-1-abc", headers=AUTH)
        assert "stop the run" in str(assert_problem(owned, 409)["detail"])
        second = await http.post("/v1/runs", json={"scenario": "baseline"}, headers=AUTH)
        assert "timeline-outage" in str(assert_problem(second, 409, "conflict")["detail"])
        stopped = await http.delete("/v1/runs/current", headers=AUTH)
        assert stopped.status_code == 200 and process.stops == 1
        done = await wait_phase(http, "done")
        assert done["verdict"] == "invalid" and "stopped by hand" in str(done["reason"])
        assert done["active"] == []
        assert_problem(await http.delete("/v1/runs/current", headers=AUTH), 404)
    name, resilience, out = process.args
    assert (name, resilience) == ("timeline-outage", "on")  # the stack's own setting
    assert out.parent == tmp_path / "reports" and out.name.endswith("-timeline-outage")


async def test_a_result_is_the_verdict_and_no_result_is_an_error(tmp_path: Path) -> None:
    spawned = Spawned()
    async with client(make_app(tmp_path, FakeBackend(tmp_path), spawn=spawned)) as http:
        assert (await http.post("/v1/runs", json={"scenario": "baseline"},
                                headers=AUTH)).json()["joined"] is False  # fmt: skip
        spawned.made[0].say(result={"verdict": "pass", "reason": "every hypothesis held",
                                    "report": "20260101-000000-baseline"})  # fmt: skip
        spawned.made[0].end()
        done = await wait_phase(http, "done")
        assert (done["verdict"], done["report"]) == ("pass", "20260101-000000-baseline")
        again = await http.post("/v1/runs", json={"scenario": "baseline"}, headers=AUTH)
        assert again.status_code == 202
        spawned.made[1].say(error="the backend cannot run this scenario")
        spawned.made[1].end()
        assert (await wait_phase(http, "error"))["error"] == "the backend cannot run this scenario"
        third = await http.post("/v1/runs", json={"scenario": "baseline"}, headers=AUTH)
        assert third.status_code == 202
        spawned.made[2].say(garbage="not a message of the protocol")
        spawned.made[2].end()
        assert "with no result" in str((await wait_phase(http, "error"))["error"])


async def test_an_unknown_or_unrunnable_scenario_is_a_422_with_its_reason(tmp_path: Path) -> None:
    backend = FakeBackend(tmp_path)
    backend.refuse["timeline-1"] = "no container for timeline-1 in compose project x"
    spawned = Spawned()
    async with client(make_app(tmp_path, backend, spawn=spawned)) as http:
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
    assert spawned.made == []
    by_name = {s["name"]: s for s in catalogue}
    assert by_name["baseline"]["runnable"] is True and by_name["baseline"]["refusal"] is None
    outage = by_name["timeline-outage"]
    assert outage["runnable"] is False and "timeline-1" in outage["refusal"]
    assert {f["target"] for f in outage["faults"]} == {"timeline-1", "timeline-2"}
    assert all(h["metric"] for h in outage["hypotheses"])
    assert by_name["swarm-task-kill-healing-off"]["self_healing"] == "off"


async def test_a_scenario_written_for_the_other_resilience_says_so_instead_of_running(
    tmp_path: Path,
) -> None:
    spawned = Spawned()
    off = stack_http(resilience="off", load="stopped")
    async with client(
        make_app(tmp_path, FakeBackend(tmp_path), spawn=spawned, stack_http=off)
    ) as http:
        refused = await http.post("/v1/runs", json={"scenario": "timeline-outage"}, headers=AUTH)
        detail = str(assert_problem(refused, 422)["detail"])
        assert "written for resilience on" in detail and "FAILWHALE_RESILIENCE=on" in detail
        catalogue = (await http.get("/v1/catalogue", headers=AUTH)).json()["scenarios"]
        by_name = {s["name"]: s for s in catalogue}
        assert by_name["timeline-outage"]["resilience"] == "on"
        assert not by_name["timeline-outage"]["runnable"]
        assert by_name["baseline"]["runnable"]  # written for either setting
        started = await http.post("/v1/runs", json={"scenario": "baseline"}, headers=AUTH)
        assert started.status_code == 202, started.text
    assert spawned.made[0].args[:2] == ("baseline", "off")  # run with the stack's own setting


async def test_a_run_needs_a_stack_that_says_its_resilience(tmp_path: Path) -> None:
    down = httpx.Client(transport=httpx.MockTransport(lambda _: httpx.Response(502)))
    spawned = Spawned()
    app = make_app(tmp_path, FakeBackend(tmp_path), spawn=spawned, stack_http=down)
    async with client(app) as http:
        answer = await http.post("/v1/runs", json={"scenario": "baseline"}, headers=AUTH)
        state = (await http.get("/v1/state", headers=AUTH)).json()
    assert "does not say its resilience" in str(assert_problem(answer, 422)["detail"])
    assert state["resilience"] is None and state["load"] is None and state["run"] is None
    assert spawned.made == []


async def test_a_run_started_just_after_the_load_sees_it_and_joins(tmp_path: Path) -> None:
    master = {"state": "stopped"}

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/status":
            return httpx.Response(200, json={"resilience": "on"})
        return httpx.Response(200, json={"state": master["state"], "user_count": 5})

    live = httpx.Client(transport=httpx.MockTransport(answer))
    spawned = Spawned()
    app = make_app(tmp_path, FakeBackend(tmp_path), spawn=spawned, stack_http=live)
    async with client(app) as http:
        assert (await http.get("/v1/state", headers=AUTH)).json()["load"]["state"] == "stopped"
        master["state"] = "running"  # the user starts load from the form, then clicks Run
        started = await http.post("/v1/runs", json={"scenario": "baseline"}, headers=AUTH)
        assert started.status_code == 202, started.text
        assert started.json()["joined"] is True
