"""Scenario runs started from the console: one at a time, each a `ChaosRun` (the CLI's engine:
journal, verify-or-invalid, revert in finally, dead-man) in a thread of its own, with
`join=True`: where the stack's Locust master already runs a load, the run acts on it; else it
brings the scenario's own. Its progress is the state's `run`; its faults go on the fault board.

The run uses the resilience the stack runs with (the gateway's /v1/status) and writes its folder
into the reports directory under the CLI's naming, so CLI and console runs list together. A run
is stopped early by raising from its progress callback: the runner reverts its faults in finally.
"""

import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from chaos.backends.base import AppliedFault, Backend
from chaos.console.catalogue import runnable
from chaos.console.hand_faults import FaultBoard
from chaos.console.stack_view import StackView
from chaos.report.folder import default_out_dir
from chaos.report.result import RunResult
from chaos.runner import ChaosRun, Progress, Report, SetupError
from chaos.scenario import Scenario
from services.common.errors import Conflict, NotFound, Unprocessable

log = logging.getLogger("failwhale.chaos.agent")
BUSY_LOAD = ("running", "spawning")
OVER = ("done", "error")


class Runnable(Protocol):
    applied: list[AppliedFault]

    def run(self) -> RunResult: ...


RunFactory = Callable[[Scenario, Backend, str, Path, Report], Runnable]


def chaos_run(
    scenario: Scenario, backend: Backend, resilience: str, out: Path, report: Report
) -> Runnable:
    return ChaosRun(scenario, backend, resilience, out, report=report, join=True)


class RunStopped(Exception):
    """Raised from the progress callback: the run ends at once, its faults reverted."""


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
    stop: threading.Event = field(default_factory=threading.Event)

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
            "stopping": self.stop.is_set() and phase not in OVER,
        }


class ScenarioRuns:
    def __init__(
        self,
        backend: Backend,
        view: StackView,
        board: FaultBoard,
        reports_dir: Path,
        factory: RunFactory = chaos_run,
    ) -> None:
        self.backend = backend
        self.view = view
        self.board = board
        self.reports_dir = reports_dir
        self.factory = factory
        self._current: RunState | None = None
        self._thread: threading.Thread | None = None
        self._runs: dict[str, Runnable] = {}  # by run id, while it runs: its applied faults
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
            load = self.view.load()
            joined = load is not None and load["state"] in BUSY_LOAD
            state = RunState(
                secrets.token_hex(4), scenario, self._out(scenario.name), joined=joined
            )
            run = self.factory(scenario, self.backend, resilience, state.out, self._progress(state))
            self._current = state
            self._thread = threading.Thread(
                target=self._work, args=(state, run), name=f"run-{name}", daemon=True
            )
            self._thread.start()
            return state.view(time.time())

    def stop(self) -> dict[str, Any]:
        """Ends the current run early; 404 when none runs."""
        state = self._current
        if state is None or state.phase in OVER:
            raise NotFound("no run in progress")
        state.stop.set()
        return state.view(time.time())

    def close(self, timeout_s: float = 60.0) -> None:
        """The agent stops: a run in progress ends, its faults reverted."""
        if self._current is not None:
            self._current.stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)

    def _out(self, scenario: str) -> Path:
        out = default_out_dir(scenario, root=self.reports_dir)
        n = 1
        while out.exists():  # two runs in the same second
            n += 1
            out = out.with_name(f"{default_out_dir(scenario, root=self.reports_dir).name}-{n}")
        return out

    def _progress(self, state: RunState) -> Callable[[Progress], None]:
        def report(progress: Progress) -> None:
            if state.started_at is None:
                state.started_at = time.time() - progress.elapsed_s
            state.phase = progress.phase
            state.active = list(progress.active)
            self._adopt(state)
            if state.stop.is_set():
                raise RunStopped(f"stopped by hand after {progress.elapsed_s:.0f} s")

        return report

    def _adopt(self, state: RunState) -> None:
        run = self._runs.get(state.id)
        if run is not None:
            self.board.adopt(run.applied)

    def _work(self, state: RunState, run: Runnable) -> None:
        self._runs[state.id] = run
        try:
            result = run.run()
            state.verdict = result.summary.verdict
            state.reason = result.judgement.reason
            state.report = state.out.name
            state.phase = "done"
        except RunStopped as exc:
            state.verdict, state.phase = "invalid", "done"
            state.reason = f"{exc}: its faults were reverted; a stopped run proves nothing"
        except SetupError as exc:
            state.error, state.phase = str(exc), "error"
        except Exception as exc:  # shown in the console; the runner reverted in finally
            log.exception("the run of %s failed", state.scenario.name)
            state.error, state.phase = f"the run failed: {exc!r}", "error"
        finally:
            self.board.adopt(run.applied)
            state.active = []
            self._runs.pop(state.id, None)
