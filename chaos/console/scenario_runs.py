"""Scenario runs started from the console, one at a time. Each is the CLI's run (`ChaosRun` with
`join=True`: where the stack's Locust master already runs a load, the run acts on it; else it
brings the scenario's own) in a process of its own (chaos.console.run_worker), whose JSON lines
a thread of the agent reads into the state's `run` and the fault board. Stopping a run is a
SIGTERM to that process: the runner reverts its faults in finally, and the verdict says so.

The run uses the resilience the stack runs with (the gateway's /v1/status) and writes its folder
into the reports directory under the CLI's naming, so CLI and console runs list together.
"""

import json
import logging
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from chaos.backends.base import Backend
from chaos.console.catalogue import runnable
from chaos.console.hand_faults import FaultBoard
from chaos.console.stack_view import StackView
from chaos.load_master import BUSY
from chaos.report.folder import default_out_dir
from chaos.scenario import Scenario
from services.common.errors import Conflict, NotFound, Unprocessable

log = logging.getLogger("failwhale.chaos.agent")
REPO = Path(__file__).resolve().parents[2]
OVER = ("done", "error")
STOP_WAIT_S = 180.0  # a stopped run reverts its faults, which may wait for services to be ready


class RunProcess(Protocol):
    def lines(self) -> Iterator[str]: ...

    def stop(self) -> None: ...

    def wait(self, timeout_s: float) -> int | None: ...


Spawn = Callable[[str, str, Path], RunProcess]


class WorkerProcess:
    """The run's process: `python -m chaos.console.run_worker NAME RESILIENCE OUT`."""

    def __init__(self, env: dict[str, str], name: str, resilience: str, out: Path) -> None:
        command = [sys.executable, "-m", "chaos.console.run_worker", name, resilience, str(out)]
        self.popen = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True, env=env, cwd=REPO
        )

    def lines(self) -> Iterator[str]:
        assert self.popen.stdout is not None
        yield from self.popen.stdout

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)

    def wait(self, timeout_s: float) -> int | None:
        try:
            return self.popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.popen.kill()  # the journal and the dead-man timer undo what it left
            self.popen.wait()
            return None


def spawn_worker(env: dict[str, str]) -> Spawn:
    return lambda name, resilience, out: WorkerProcess(env, name, resilience, out)


@dataclass
class RunState:
    id: str
    scenario: Scenario
    out: Path
    joined: bool
    phase: str = "starting"
    started_at: float | None = None
    active: list[str] = field(default_factory=list)
    verdict: str | None = None
    reason: str | None = None
    report: str | None = None
    error: str | None = None
    stopping: bool = False

    def view(self, now: float) -> dict[str, Any]:
        duration = self.scenario.load.duration_s
        elapsed = 0.0 if self.started_at is None else max(0.0, now - self.started_at)
        phase = self.phase
        if phase in ("steady", "fault", "recovery") and elapsed >= duration:
            phase = "auditing"  # the load is over; the runner waits for the audit and reports
        return {
            "id": self.id,
            "scenario": self.scenario.name,
            "phase": phase,
            "started_at": self.started_at,
            "elapsed_s": round(min(elapsed, duration), 1),
            "left_s": round(max(0.0, duration - elapsed), 1),
            "active": list(self.active),
            "joined": self.joined,
            "verdict": self.verdict,
            "reason": self.reason,
            "report": self.report,
            "error": self.error,
            "stopping": self.stopping and phase not in OVER,
        }

    def take(self, message: dict[str, Any]) -> None:
        """One line of the run's process."""
        if (progress := message.get("progress")) is not None:
            if self.started_at is None:
                self.started_at = time.time() - float(progress["elapsed_s"])
            self.phase, self.active = str(progress["phase"]), list(progress["active"])
        if (result := message.get("result")) is not None:
            self.verdict, self.reason = result["verdict"], result["reason"]
            self.report, self.phase = result["report"], "done"
        if (stopped := message.get("stopped")) is not None:
            self.verdict, self.phase = "invalid", "done"
            self.reason = f"{stopped}: its faults were reverted; a stopped run proves nothing"
        if (error := message.get("error")) is not None:
            self.error, self.phase = str(error), "error"


class ScenarioRuns:
    def __init__(
        self, backend: Backend, view: StackView, board: FaultBoard, reports_dir: Path, spawn: Spawn
    ) -> None:
        self.backend = backend
        self.view = view
        self.board = board
        self.reports_dir = reports_dir
        self.spawn = spawn
        self._current: RunState | None = None
        self._process: RunProcess | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def current(self) -> dict[str, Any] | None:
        state = self._current
        return None if state is None else state.view(time.time())

    def start(self, name: str) -> dict[str, Any]:
        with self._lock:
            if self._current is not None and self._current.phase not in OVER:
                raise Conflict(f"{self._current.scenario.name} is running: stop it or wait")
            scenario = runnable(name, self.backend, self.view)
            resilience = self.view.resilience()
            if resilience is None:
                raise Unprocessable(
                    f"the gateway at {self.backend.gateway_url} does not say its resilience: "
                    "is the stack up?"
                )
            load = self.view.load(fresh=True)
            joined = load is not None and load["state"] in BUSY
            state = RunState(secrets.token_hex(4), scenario, self._out(name), joined=joined)
            process = self.spawn(name, resilience, state.out)
            self._current, self._process = state, process
            self._thread = threading.Thread(
                target=self._follow, args=(state, process), name=f"run-{name}", daemon=True
            )
            self._thread.start()
            return state.view(time.time())

    def stop(self) -> dict[str, Any]:
        """Ends the current run early (its faults reverted); 404 when none runs."""
        state, process = self._current, self._process
        if state is None or process is None or state.phase in OVER:
            raise NotFound("no run in progress")
        state.stopping = True
        process.stop()
        return state.view(time.time())

    def close(self) -> None:
        """The agent stops: a run in progress ends, its faults reverted."""
        if self._process is not None:
            self._process.stop()
        if self._thread is not None:
            self._thread.join(timeout=STOP_WAIT_S)

    def _out(self, scenario: str) -> Path:
        first = default_out_dir(scenario, root=self.reports_dir)
        out, n = first, 1
        while out.exists():  # two runs in the same second
            n += 1
            out = first.with_name(f"{first.name}-{n}")
        return out

    def _follow(self, state: RunState, process: RunProcess) -> None:
        try:
            for line in process.lines():
                try:
                    message = json.loads(line)
                except ValueError:
                    continue
                self.board.show(message.get("faults") or [])
                state.take(message)
        finally:
            code = process.wait(STOP_WAIT_S)
            if state.phase not in OVER:
                state.error, state.phase = (
                    f"the run's process ended ({code}) with no result",
                    "error",
                )
                log.warning("the run of %s ended without a result (%s)", state.scenario.name, code)
            state.active = []
