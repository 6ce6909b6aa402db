"""The chaos agent as it runs for the console: a real uvicorn process with the local backend
against a real local stack. A hand kill of timeline-1 through its HTTP API takes effect (the
process is gone), reverts by itself at its deadline (the service answers again) and leaves
nothing pending in the journal; a bad field is a 422 naming it; real run folders are listed and
served, and two of them compared."""

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from chaos.backends.local import processes as proc
from chaos.journal import Journal
from chaos.report.folder import report_run
from chaos.scenario import catalogue, load_scenario
from stack.layout import free_layout
from stack.local import LocalStack
from tests.integration.loadgen import free_port
from tests.unit.observations import timeline_outage

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
TOKEN = "integration-console-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Agent:
    url: str
    stack: LocalStack
    reports: Path
    log: Path

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=AUTH, timeout=60)


def ready(url: str) -> bool:
    try:
        return httpx.get(url + "/readyz", timeout=2).is_success
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    workdir = tmp_path_factory.mktemp("console-stack")
    reports = tmp_path_factory.mktemp("console-reports")
    stack = LocalStack(workdir, free_layout())
    stack.up()
    port = free_port()
    log = workdir / "agent.log"
    env = {
        **os.environ,
        "FAILWHALE_CONSOLE_TOKEN": TOKEN,
        "FAILWHALE_CHAOS_BACKEND": "local",
        "FAILWHALE_CHAOS_SCOPE": str(workdir),
        "FAILWHALE_REPORTS_DIR": str(reports),
    }
    command = [sys.executable, "-m", "uvicorn", "chaos.console.agent:create_app", "--factory",
               "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    with open(log, "wb") as out:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _answers(url + "/healthz"):
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the agent did not answer in 60 s"
            time.sleep(0.2)
        yield Agent(url, stack, reports, log)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        # A fresh view of the stack: the agent restarted timeline-1 (new pid, in stack.json).
        LocalStack(workdir, stack.layout).down()
        stack.down()  # waits for the processes this test started itself
    assert TOKEN not in log.read_text()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_the_agent_refuses_to_start_without_a_token(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAILWHALE_CONSOLE_TOKEN")}
    env.update(FAILWHALE_CHAOS_BACKEND="local", FAILWHALE_CHAOS_SCOPE=str(tmp_path))
    command = [sys.executable, "-m", "uvicorn", "chaos.console.agent:create_app", "--factory",
               "--port", str(free_port())]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "needs FAILWHALE_CONSOLE_TOKEN" in done.stderr


def test_a_hand_kill_takes_effect_and_reverts_by_itself_at_its_deadline(agent: Agent) -> None:
    timeline = agent.stack.layout.url("timeline-1")
    old = agent.stack.pid("timeline-1")
    assert ready(timeline)
    with agent.http() as http:
        assert http.get("/v1/state").json()["backend"] == "local"
        answer = http.post(
            "/v1/faults", json={"fault": "kill", "target": "timeline-1", "duration_s": 4}
        )
        assert answer.status_code == 201, answer.text
        fault = answer.json()
        assert fault["took_effect"] is True, fault["evidence"]
        assert not proc.alive(old), "timeline-1's process is still there"
        assert not ready(timeline)
        listed = next(f for f in http.get("/v1/state").json()["faults"] if f["id"] == fault["id"])
        assert listed["ended_at"] is None and 0 < listed["left_s"] <= 4
        # Nobody asks for the revert: the agent's own timer does it at the deadline.
        until = time.monotonic() + 60
        while not ready(timeline):
            assert time.monotonic() < until, "timeline-1 did not come back by itself"
            time.sleep(0.2)
        ended: dict[str, Any] = {}
        while not ended.get("ended_at"):
            assert time.monotonic() < until
            state = http.get("/v1/state").json()
            ended = next(f for f in state["faults"] if f["id"] == fault["id"])
            time.sleep(0.2)
    assert ended["ended_at"] >= fault["deadline"]
    assert "ready" in ended["revert_evidence"], ended["revert_evidence"]
    journal = Journal.open(agent.stack.workdir / "chaos" / "local.json")
    assert journal.pending() == []
    assert LocalStack(agent.stack.workdir, agent.stack.layout).pid("timeline-1") != old


def test_a_bad_field_is_a_422_and_nothing_is_applied(agent: Agent) -> None:
    with agent.http() as http:
        before = len(http.get("/v1/state").json()["faults"])
        answer = http.post(
            "/v1/faults",
            json={"fault": "latency", "target": "dms", "duration_s": 5, "delay_ms": 0},
        )
        after = len(http.get("/v1/state").json()["faults"])
        no_token = httpx.get(agent.url + "/v1/state", timeout=10)
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in answer.json()["errors"]] == ["delay_ms"]
    assert before == after
    assert no_token.status_code == 401


def test_run_folders_are_listed_served_and_compared(agent: Agent) -> None:
    scenario = load_scenario(catalogue()["timeline-outage"])
    on = report_run(scenario, timeline_outage("on"), agent.reports / "20260101-000000-on")
    off = report_run(scenario, timeline_outage("off"), agent.reports / "20260101-000100-off")
    assert on.summary.resilience == "on" and off.summary.resilience == "off"
    os.utime(agent.reports / "20260101-000000-on" / "summary.json", (1000, 1000))
    with agent.http() as http:
        listed = http.get("/v1/reports").json()["reports"]
        assert [r["name"] for r in listed] == ["20260101-000100-off", "20260101-000000-on"]
        assert listed[0]["resilience"] == "off" and listed[0]["kind"] == "run"
        assert "latency.png" in listed[0]["files"]
        page = http.get("/v1/reports/20260101-000000-on/report.html")
        assert page.status_code == 200 and "timeline-outage" in page.text
        summary = http.get("/v1/reports/20260101-000000-on/summary.json").json()
        assert summary["verdict"] == on.summary.verdict
        made = http.post(
            "/v1/compare", json={"a": "20260101-000000-on", "b": "20260101-000100-off"}
        )
        assert made.status_code == 201, made.text
        name = made.json()["name"]
        compared = http.get(f"/v1/reports/{name}/report.html")
        data = http.get(f"/v1/reports/{name}/compare.json").json()
        escaped = http.get("/v1/reports/20260101-000000-on/..%2F..%2Fagent.log")
        newest = http.get("/v1/reports").json()["reports"][0]
    assert compared.status_code == 200 and compared.text.count("data:image/png") >= 8
    fault_p99 = data["phases"]["fault"]["p99_ms"]
    assert fault_p99["b_over_a"] == pytest.approx(fault_p99["b"] / fault_p99["a"], rel=1e-5)
    assert fault_p99["b_over_a"] > 1  # resilience off is slower under the same outage
    assert newest["name"] == name and newest["kind"] == "compare"
    assert escaped.status_code == 404
    shutil.rmtree(agent.reports / name)


def test_a_scenario_run_acts_in_its_own_process_and_a_stop_reverts_its_faults(
    agent: Agent,
) -> None:
    layout = agent.stack.layout
    with agent.http() as http:
        started = http.post("/v1/runs", json={"scenario": "timeline-outage"})
        assert started.status_code == 202, started.text
        assert http.post("/v1/runs", json={"scenario": "baseline"}).status_code == 409
        until = time.monotonic() + 90
        state = http.get("/v1/state").json()
        while state["run"]["phase"] != "fault" or len(scenario_faults(state)) < 2:
            assert state["run"]["phase"] not in ("done", "error"), state["run"]
            assert time.monotonic() < until, state["run"]
            time.sleep(0.5)
            state = http.get("/v1/state").json()
        assert all(f["took_effect"] for f in scenario_faults(state)), scenario_faults(state)
        assert not ready(layout.url("timeline-1")) and not ready(layout.url("timeline-2"))
        assert http.delete("/v1/runs/current").status_code == 200
        while state["run"]["phase"] not in ("done", "error"):
            assert time.monotonic() < until + 60, state["run"]
            time.sleep(0.5)
            state = http.get("/v1/state").json()
    run = state["run"]
    assert (run["phase"], run["verdict"]) == ("done", "invalid"), run
    assert "stopped by hand" in run["reason"]
    assert all(f["ended_at"] is not None for f in scenario_faults(state)), scenario_faults(state)
    assert ready(layout.url("timeline-1")) and ready(layout.url("timeline-2"))
    assert Journal.open(agent.stack.workdir / "chaos" / "local.json").pending() == []


def scenario_faults(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in state["faults"] if f["source"] == "scenario"]
