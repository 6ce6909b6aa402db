"""In-process fakes of what the chaos agent drives (a backend, a scenario run, the stack's
gateway and master), for the agent's unit tests."""

import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from chaos.backends.base import AppliedFault, Fault, FaultError
from chaos.console.agent import create_app
from chaos.console.settings import AgentSettings
from chaos.journal import Journal
from chaos.report.result import RunResult
from chaos.runner import Progress, Report
from chaos.scenario import Scenario
from chaos.undo import UndoRecord

TOKEN = "console-token-for-unit-tests-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class FakeFault(AppliedFault):
    def _verify(self) -> tuple[bool, str]:
        return True, f"{self.target} is down"

    def _revert(self) -> str:
        self.reverts = getattr(self, "reverts", 0) + 1
        return f"{self.target} is back"


class FakeBackend:
    name = "local"
    gateway_url = "http://gateway.test"

    def __init__(self, workdir: Path) -> None:
        self.journal = Journal(workdir / "journal.json", {"backend": "local", "scope": "t"})
        self.applied: list[FakeFault] = []
        self.refuse: dict[str, str] = {}  # target -> reason
        self.swept = 0

    def services(self) -> dict[str, str]:
        return {}

    def check(self, spec: Fault) -> str | None:
        return self.refuse.get(spec.target)

    def apply(self, spec: Fault) -> AppliedFault:
        fault = FakeFault(
            spec, f"{spec.fault}-{spec.target}-{len(self.applied)}", "fake", self.journal
        )
        self.applied.append(fault)
        return fault

    def sweep(self) -> list[str]:
        self.swept += 1
        return []

    def close(self) -> None:
        pass

    def stack_locust_url(self) -> str | None:
        return "http://master.test"

    def self_healing(self) -> str | None:
        return None

    def set_self_healing(self, mode: str) -> list[str]:
        raise FaultError("no orchestrator")

    def switch_resilience(self, mode: str) -> None:
        raise FaultError("not in these tests")

    def undo(self, record: UndoRecord) -> str:
        return "nothing"


class BlockingRun:
    """A run that reports progress every 10 ms until it is stopped (the report raises) or
    released; what a ChaosRun does with its callback."""

    def __init__(self, scenario: Scenario, report: Report) -> None:
        self.scenario = scenario
        self.report = report
        self.applied: list[AppliedFault] = []
        self.release = threading.Event()

    def run(self) -> RunResult:
        began = time.time()
        while not self.release.is_set():
            elapsed = time.time() - began
            self.report(Progress("steady", elapsed, 60 - elapsed, None, []))
            time.sleep(0.01)
        raise RuntimeError("released without a result")


def stack_http(resilience: str = "on", load: str = "stopped") -> httpx.Client:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/status":
            return httpx.Response(200, json={"resilience": resilience})
        if request.url.path == "/stats/requests":
            return httpx.Response(200, json={"state": load, "user_count": 5})
        return httpx.Response(404)

    return httpx.Client(transport=httpx.MockTransport(answer))


def make_app(tmp: Path, backend: FakeBackend, **kwargs: Any) -> FastAPI:
    settings = AgentSettings(console_token=TOKEN, reports_dir=tmp / "reports")
    kwargs.setdefault("stack_http", stack_http())
    return create_app(settings, backend=lambda _: backend, **kwargs)


@asynccontextmanager
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan run (the keeper thread, the sweep), over ASGI."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://agent") as http:
            yield http
