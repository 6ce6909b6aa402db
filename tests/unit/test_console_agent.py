"""The chaos agent's API rules, in process with a fake backend: the token on every /v1 route
(401 problem+json without it or with a wrong one, never at /healthz), no start without a token,
hand faults validated field by field with the scenario schema's models (422), a backend's
refusal beside the target, 404 for an unknown fault, an idempotent revert, and every hand fault
reverted by the agent itself at its deadline."""

import asyncio
import os
import subprocess
import time
from pathlib import Path

import pytest

from chaos.backends.local.records import ServiceRunning
from chaos.console.agent import create_app
from chaos.console.hand_faults import FaultBoard
from chaos.console.settings import AgentSettings
from chaos.journal import Entry
from tests.unit.console_fakes import AUTH, TOKEN, FakeBackend, client, make_app
from tests.unit.problems import assert_problem

pytestmark = pytest.mark.anyio


async def test_every_v1_route_needs_the_token_and_healthz_does_not(tmp_path: Path) -> None:
    app = make_app(tmp_path, FakeBackend(tmp_path))
    async with client(app) as http:
        health = await http.get("/healthz")
        assert health.json() == {"status": "ok"}
        for method, path in [("GET", "/v1/state"), ("POST", "/v1/faults"),
                             ("DELETE", "/v1/faults/x"), ("GET", "/v1/reports"),
                             ("POST", "/v1/runs"), ("GET", "/v1/catalogue")]:  # fmt: skip
            missing = await http.request(method, path)
            assert_problem(missing, 401, "unauthorized")
            assert missing.headers["www-authenticate"] == "Bearer"
            wrong = await http.request(method, path, headers={"Authorization": "Bearer nope"})
            body = assert_problem(wrong, 401, "unauthorized")
            assert TOKEN not in wrong.text and "nope" not in str(body["detail"])
        basic = await http.get("/v1/state", headers={"Authorization": f"Basic {TOKEN}"})
        assert_problem(basic, 401)
        assert (await http.get("/v1/state", headers=AUTH)).status_code == 200


def test_the_agent_refuses_to_start_without_a_token_and_never_says_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FAILWHALE_CONSOLE_TOKEN", raising=False)
    monkeypatch.delenv("FAILWHALE_CONSOLE_TOKEN_FILE", raising=False)
    with pytest.raises(SystemExit, match="needs FAILWHALE_CONSOLE_TOKEN"):
        create_app(backend=lambda _: FakeBackend(tmp_path))
    short = "short-token"
    with pytest.raises(SystemExit, match="shorter than") as refused:
        create_app(AgentSettings(console_token=short), backend=lambda _: FakeBackend(tmp_path))
    assert short not in str(refused.value)


def test_the_token_may_come_from_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "token"
    secret.write_text(TOKEN + "\n")
    monkeypatch.delenv("FAILWHALE_CONSOLE_TOKEN", raising=False)
    monkeypatch.setenv("FAILWHALE_CONSOLE_TOKEN_FILE", str(secret))
    settings = AgentSettings()
    assert settings.console_token == TOKEN
    assert TOKEN not in repr(settings)


async def test_state_lists_targets_kinds_with_their_fields_and_the_stack(tmp_path: Path) -> None:
    async with client(make_app(tmp_path, FakeBackend(tmp_path))) as http:
        state = (await http.get("/v1/state", headers=AUTH)).json()
    assert state["backend"] == "local"
    assert state["resilience"] == "on"
    assert state["load"] == {"state": "stopped", "users": 5}
    assert state["run"] is None and state["faults"] == []
    assert "timeline-1" in state["targets"] and "timeline" not in state["targets"]
    assert "scale" not in state["kinds"]  # an orchestrator's: the fake has none
    latency = {f["name"]: f for f in state["kinds"]["latency"]["fields"]}
    assert latency["delay_ms"]["required"] and latency["delay_ms"]["maximum"] == 30_000
    assert latency["duration_s"] | {"minimum": 1.0, "maximum": 3600.0} == latency["duration_s"]
    assert state["kinds"]["partition"]["fields"][-1]["type"] == "enum"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"fault": "latency", "target": "timeline-1", "duration_s": 5, "delay_ms": -3}, "delay_ms"),
        ({"fault": "latency", "target": "timeline-1", "duration_s": 5}, "delay_ms"),
        ({"fault": "kill", "target": "timeline-9", "duration_s": 5}, "target"),
        ({"fault": "melt", "target": "timeline-1", "duration_s": 5}, "fault"),
        ({"target": "timeline-1", "duration_s": 5}, "fault"),
        ({"fault": "kill", "target": "users", "duration_s": 5, "colour": "red"}, "colour"),
        ({"fault": "kill", "target": "users", "duration_s": 0.5}, "duration_s"),
        ({"fault": "kill", "target": "users", "duration_s": 3601}, "duration_s"),
        ({"fault": "kill", "target": "users", "duration_s": 5, "at_s": 10}, "at_s"),
        ({"fault": "http-errors", "target": "users", "duration_s": 5, "rate": 2}, "rate"),
    ],
)
async def test_a_bad_field_is_a_422_naming_it(
    tmp_path: Path, body: dict[str, object], field: str
) -> None:
    backend = FakeBackend(tmp_path)
    async with client(make_app(tmp_path, backend)) as http:
        answer = await http.post("/v1/faults", json=body, headers=AUTH)
    problem = assert_problem(answer, 422, "unprocessable")
    errors = problem["errors"]
    assert isinstance(errors, list)
    assert field in [e["field"] for e in errors], errors
    assert all(e["message"] for e in errors)
    assert backend.applied == []


async def test_a_body_that_is_no_object_is_a_422(tmp_path: Path) -> None:
    async with client(make_app(tmp_path, FakeBackend(tmp_path))) as http:
        listed = await http.post("/v1/faults", json=[1, 2], headers=AUTH)
        broken = await http.post("/v1/faults", content=b"{", headers=AUTH | {
            "Content-Type": "application/json"})  # fmt: skip
    assert_problem(listed, 422)
    assert_problem(broken, 422)


async def test_a_backend_refusal_is_a_422_beside_the_target(tmp_path: Path) -> None:
    backend = FakeBackend(tmp_path)
    backend.refuse["redis"] = "redis has no fault hook: http-errors needs an HTTP service"
    body = {"fault": "http-errors", "target": "redis", "duration_s": 5, "rate": 0.5}
    async with client(make_app(tmp_path, backend)) as http:
        answer = await http.post("/v1/faults", json=body, headers=AUTH)
    problem = assert_problem(answer, 422)
    assert problem["errors"] == [{"field": "target", "message": backend.refuse["redis"]}]
    assert backend.applied == []


async def test_a_hand_fault_is_listed_reverted_by_delete_once_and_404_when_unknown(
    tmp_path: Path,
) -> None:
    backend = FakeBackend(tmp_path)
    body = {"fault": "latency", "target": "dms", "duration_s": 600, "delay_ms": 300}
    async with client(make_app(tmp_path, backend)) as http:
        applied = await http.post("/v1/faults", json=body, headers=AUTH)
        assert applied.status_code == 201, applied.text
        fault = applied.json()
        assert fault["source"] == "hand" and fault["took_effect"] is True
        assert fault["params"] == {"delay_ms": 300, "jitter_ms": 0}
        assert fault["deadline"] == pytest.approx(fault["started_at"] + 600)
        assert 590 < fault["left_s"] <= 600 and fault["ended_at"] is None
        listed = (await http.get("/v1/state", headers=AUTH)).json()["faults"]
        assert [f["id"] for f in listed] == [fault["id"]]
        first = await http.delete(f"/v1/faults/{fault['id']}", headers=AUTH)
        again = await http.delete(f"/v1/faults/{fault['id']}", headers=AUTH)
        assert first.status_code == again.status_code == 200
        assert first.json()["ended_at"] is not None and first.json()["left_s"] == 0
        assert again.json() == first.json()
        assert first.json()["revert_evidence"] == "dms is back"
        assert_problem(await http.delete("/v1/faults/nope", headers=AUTH), 404, "not-found")
    assert backend.applied[0].reverts == 1
    assert backend.journal.pending() == []


def test_the_keeper_reverts_a_hand_fault_at_its_deadline_not_before(tmp_path: Path) -> None:
    now = [1000.0]
    backend = FakeBackend(tmp_path)
    board = FaultBoard(backend, clock=lambda: now[0])
    fault = board.apply({"fault": "kill", "target": "timeline-1", "duration_s": 30})
    assert fault["deadline"] == pytest.approx(fault["started_at"] + 30)
    now[0] = fault["deadline"] - 0.1
    board.tick()
    time.sleep(0.2)
    assert not backend.applied[0].reverted
    now[0] = fault["deadline"]
    board.tick()
    for _ in range(500):  # the revert runs in a thread of its own: a busy machine is slow
        if backend.applied[0].reverted:
            break
        time.sleep(0.02)
    assert backend.applied[0].reverted
    assert board.listing()[0]["revert_evidence"] == "timeline-1 is back"


async def test_a_hand_fault_reverts_by_itself_with_nobody_asking(tmp_path: Path) -> None:
    backend = FakeBackend(tmp_path)
    body = {"fault": "kill", "target": "trends", "duration_s": 1}
    async with client(make_app(tmp_path, backend)) as http:
        assert (await http.post("/v1/faults", json=body, headers=AUTH)).status_code == 201
        for _ in range(150):
            if backend.applied[0].reverted:
                break
            await asyncio.sleep(0.1)
        listed = (await http.get("/v1/state", headers=AUTH)).json()["faults"]
    assert backend.applied[0].reverted
    assert listed[0]["ended_at"] >= listed[0]["deadline"]


def entry(fault_id: str, owner: int, service: str = "timeline-1") -> Entry:
    record = ServiceRunning(service=service)
    return Entry(id=fault_id, kind="kill", target=service, mechanism="signal", undo=record,
                 state="applied", owner_pid=owner)  # fmt: skip


@pytest.fixture
def gone() -> subprocess.Popen[bytes]:
    """A process that has ended: the owner of faults nobody reverts any more."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process


async def test_at_start_the_agent_undoes_what_a_dead_owner_left_and_only_that(
    tmp_path: Path, gone: subprocess.Popen[bytes]
) -> None:
    backend = FakeBackend(tmp_path)
    backend.journal.record(entry("left-by-a-dead-agent", gone.pid))
    backend.journal.record(entry("a-cli-run-going-on", os.getppid()))
    backend.journal.record(entry("cannot-be-undone", gone.pid, service="broken"))
    async with client(make_app(tmp_path, backend)):
        pending = [e.id for e in backend.journal.pending()]
    assert backend.undone == [ServiceRunning(service="timeline-1")]
    assert pending == ["a-cli-run-going-on", "cannot-be-undone"]


async def test_the_agent_reverts_what_is_active_when_it_stops(tmp_path: Path) -> None:
    backend = FakeBackend(tmp_path)
    body = {"fault": "pause", "target": "posts", "duration_s": 600}
    async with client(make_app(tmp_path, backend)) as http:
        assert (await http.post("/v1/faults", json=body, headers=AUTH)).status_code == 201
        assert not backend.applied[0].reverted
    assert backend.applied[0].reverted
    assert backend.journal.pending() == []


async def test_a_body_over_the_limit_is_a_413_before_the_token_is_looked_at(
    tmp_path: Path,
) -> None:
    backend = FakeBackend(tmp_path)
    huge = {"fault": "kill", "target": "users", "duration_s": 5, "pad": "x" * 70_000}
    async with client(make_app(tmp_path, backend)) as http:
        anonymous = await http.post("/v1/faults", json=huge)
        with_token = await http.post("/v1/faults", json=huge, headers=AUTH)
    assert_problem(anonymous, 413)
    assert_problem(with_token, 413)
    assert backend.applied == []


async def test_a_revert_that_fails_is_a_503_and_the_fault_stays_applied_until_one_works(
    tmp_path: Path,
) -> None:
    backend = FakeBackend(tmp_path)
    body = {"fault": "pause", "target": "redis", "duration_s": 600}
    async with client(make_app(tmp_path, backend)) as http:
        fault = (await http.post("/v1/faults", json=body, headers=AUTH)).json()
        failed = await http.delete(f"/v1/faults/{fault['id']}", headers=AUTH)
        problem = assert_problem(failed, 503)
        assert "still applied" in str(problem["detail"])
        assert backend.journal.pending() != []
        again = await http.delete(f"/v1/faults/{fault['id']}", headers=AUTH)
    assert again.status_code == 200 and again.json()["revert_evidence"] == "redis is back"
    assert backend.journal.pending() == []
