"""In-process fakes of what the chaos agent drives (a backend, a scenario run, the stack's
gateway and master), for the agent's unit tests."""

import json
import queue
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from chaos.backends.base import AppliedFault, Fault, FaultError
from chaos.backends.local.records import ServiceRunning
from chaos.console.agent import create_app
from chaos.console.settings import AgentSettings
from chaos.journal import Entry, Journal
from chaos.undo import UndoRecord

TOKEN = "console-token-for-unit-tests-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class FakeFault(AppliedFault):
    def _verify(self) -> tuple[bool, str]:
        return True, f"{self.target} is down"

    def _revert(self) -> str:
        if self.target == "redis" and not getattr(self, "reverts", 0):
            self.reverts = 1
            raise RuntimeError("the engine did not answer")  # the first time only
        self.reverts = getattr(self, "reverts", 0) + 1
        return f"{self.target} is back"


class FakeBackend:
    name = "local"
    gateway_url = "http://gateway.test"

    def __init__(self, workdir: Path) -> None:
        self.journal = Journal(workdir / "journal.json", {"backend": "local", "scope": "t"})
        self.applied: list[FakeFault] = []
        self.refuse: dict[str, str] = {}  # target -> reason
        self.undone: list[UndoRecord] = []

    def services(self) -> dict[str, str]:
        return {}

    def check(self, spec: Fault) -> str | None:
        return self.refuse.get(spec.target)

    def apply(self, spec: Fault) -> AppliedFault:
        fid = f"{spec.fault}-{spec.target}-{len(self.applied)}"
        # journaled before the change, as every engine does
        self.journal.record(Entry(id=fid, kind=spec.fault, target=spec.target, mechanism="fake",
                                  undo=ServiceRunning(service=spec.target), state="applied",
                                  expires_at=time.time() + spec.duration_s))  # fmt: skip
        fault = FakeFault(spec, fid, "fake", self.journal)
        self.applied.append(fault)
        return fault

    def sweep(self) -> list[str]:
        raise AssertionError("the agent never scans the whole stack (a CLI run's faults too)")

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
        if getattr(record, "service", "") == "broken":
            raise RuntimeError("the engine refused")
        self.undone.append(record)
        return f"{record.kind} undone"


class FakeProcess:
    """Stands in for a run's process (chaos.console.run_worker): the test says what the process
    would print; a stop answers as the worker does on SIGTERM."""

    def __init__(self, name: str, resilience: str, out: Path) -> None:
        self.args = (name, resilience, out)
        self.queue: queue.Queue[str | None] = queue.Queue()
        self.stops = 0

    def say(self, **message: Any) -> None:
        self.queue.put(json.dumps(message))

    def end(self) -> None:
        self.queue.put(None)

    def lines(self) -> Iterator[str]:
        while (line := self.queue.get(timeout=10)) is not None:
            yield line

    def stop(self) -> None:
        self.stops += 1
        self.say(stopped="stopped by hand after 3 s", faults=[])
        self.end()

    def wait(self, timeout_s: float) -> int | None:
        return 0


class Spawned:
    """The spawn the agent is given: every process it started, in order."""

    def __init__(self) -> None:
        self.made: list[FakeProcess] = []

    def __call__(self, name: str, resilience: str, out: Path) -> FakeProcess:
        self.made.append(FakeProcess(name, resilience, out))
        return self.made[-1]


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
    kwargs.setdefault("spawn", Spawned())
    return create_app(settings, backend=lambda _: backend, **kwargs)


@asynccontextmanager
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan run (the keeper thread, the sweep), over ASGI."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://agent") as http:
            yield http
