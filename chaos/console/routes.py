"""The agent's HTTP API: `GET /healthz` (no token, nothing private) and everything under /v1
(the console token required). Routes are plain functions: faults and runs block on the engine,
so they run in the server's thread pool."""

import time
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from chaos.backends.base import Backend
from chaos.console import catalogue
from chaos.console.auth import Authorized
from chaos.console.fault_kinds import kinds, targets
from chaos.console.hand_faults import FaultBoard
from chaos.console.reports import NAME, Reports
from chaos.console.scenario_runs import ScenarioRuns
from chaos.console.settings import AgentSettings
from chaos.console.stack_view import StackView
from chaos.report.compare_runs import CompareError, compare_runs
from services.common.errors import Unprocessable

health = APIRouter()
v1 = APIRouter(prefix="/v1", dependencies=[Authorized])


def _state(name: str) -> Any:
    def get(request: Request) -> Any:
        return getattr(request.app.state, name)

    return Depends(get)


SettingsDep = Annotated[AgentSettings, _state("settings")]
BackendDep = Annotated[Backend, _state("backend")]
Board = Annotated[FaultBoard, _state("board")]
View = Annotated[StackView, _state("view")]
Runs = Annotated[ScenarioRuns, _state("runs")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunRequest(Strict):
    scenario: str = Field(min_length=1, max_length=100)


class CompareRequest(Strict):
    a: str = Field(pattern=NAME.pattern)
    b: str = Field(pattern=NAME.pattern)


@health.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@v1.get("/state")
def state(settings: SettingsDep, backend: BackendDep, board: Board, view: View, runs: Runs) -> Any:
    orchestrator = view.orchestrator()
    return {
        "backend": backend.name,
        "scope": settings.chaos_scope or getattr(backend, "project", None) or "",
        "resilience": view.resilience(),
        "self_healing": view.self_healing() if orchestrator else None,
        "load": view.load(),
        "run": runs.current(),
        "faults": board.listing(),
        "targets": targets(orchestrator),
        "kinds": kinds(orchestrator),
        "now": time.time(),
    }


@v1.post("/faults", status_code=201)
def apply_fault(board: Board, body: Annotated[Any, Body()] = None) -> Any:
    return board.apply(body)


@v1.delete("/faults/{fault_id}")
def revert_fault(fault_id: str, board: Board) -> Any:
    return board.revert(fault_id)


@v1.get("/catalogue")
def scenarios(backend: BackendDep, view: View) -> Any:
    return {"scenarios": catalogue.listing(backend, view)}


@v1.post("/runs", status_code=202)
def start_run(request: RunRequest, runs: Runs) -> Any:
    return runs.start(request.scenario)


@v1.delete("/runs/current")
def stop_run(runs: Runs) -> Any:
    return runs.stop()


@v1.get("/reports")
def reports(settings: SettingsDep) -> Any:
    return {"reports": Reports(settings.reports_dir).listing()}


@v1.get("/reports/{name}/{path:path}")
def report_file(name: str, path: str, settings: SettingsDep) -> FileResponse:
    found = Reports(settings.reports_dir).file(name, path)
    return FileResponse(found, headers={"X-Content-Type-Options": "nosniff"})


@v1.post("/compare", status_code=201)
def compare(request: CompareRequest, settings: SettingsDep) -> Any:
    found = Reports(settings.reports_dir)
    a, b = found.folder(request.a), found.folder(request.b)
    if request.a == request.b:
        raise Unprocessable("compare two different runs")
    try:
        out = compare_runs(a, b, settings.reports_dir)
    except CompareError as exc:
        raise Unprocessable(str(exc)) from exc
    return {"name": out.name, "report": "report.html"}
