"""Runs one scenario: checks it can run, seeds accounts, starts the load, applies each fault at
its time, shows it took effect, reverts it at the end of its duration, observes throughout, and
hands what it saw to the verdict and the report. Every applied fault is reverted in `finally`:
on success, on errors and on Ctrl-C."""

import asyncio
import importlib.util
import signal
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TypeVar

import httpx

from chaos.backends.base import AppliedFault, Backend
from chaos.load import LoadDriver, LocustRun, read_generator
from chaos.load_master import BUSY, LoadBusy, MasterLoad, busy_message, master_state
from chaos.observation import Observation, Sample
from chaos.observer import Observer
from chaos.report.folder import report_run
from chaos.report.result import RunResult
from chaos.scenario import FaultSpec, Scenario
from chaos.stack_mode import ModeError, self_healing_as
from stack.seed import seed_stack

VERIFY_EVERY_S = 0.5
TICK_S = 0.1
T = TypeVar("T")
R = TypeVar("R")


class SetupError(RuntimeError):
    """The run cannot start (exit code 2): a fault the backend cannot do, no stack, ..."""


@dataclass
class Progress:
    phase: str
    elapsed_s: float
    left_s: float
    sample: Sample | None
    active: list[str]


Report = Callable[[Progress], None]


class ChaosRun:
    def __init__(
        self,
        scenario: Scenario,
        backend: Backend,
        resilience: str,
        out: Path,
        report: Report = lambda _: None,
        join: bool = False,
    ) -> None:
        """`join`: where the stack's Locust master already runs a load, act on it (else the run
        refuses, rather than stop someone's load); where none runs, bring the scenario's own."""
        self.scenario = scenario
        self.join = join
        self.backend = backend
        self.resilience = resilience
        self.out = out
        self.report = report
        self.applied: list[AppliedFault] = []

    def preflight(self) -> None:
        if not self.join and (url := self.backend.stack_locust_url()) is not None:
            with httpx.Client(base_url=url, timeout=10) as http:
                state = master_state(http)
            if state in BUSY:
                raise SetupError(busy_message(url, str(state)))
        refusals = [
            f"{spec.fault} on {spec.target}: {reason}"
            for spec in self.scenario.method
            if (reason := self.backend.check(spec)) is not None
        ]
        if refusals:
            raise SetupError("the backend cannot run this scenario:\n  " + "\n  ".join(refusals))
        try:
            status = httpx.get(f"{self.backend.gateway_url}/v1/status", timeout=5).json()
        except (httpx.HTTPError, ValueError) as exc:
            raise SetupError(f"no stack answers at {self.backend.gateway_url}: {exc}") from exc
        if status.get("resilience") != self.resilience:
            raise SetupError(
                f"the stack runs with resilience {status.get('resilience')!r}, not "
                f"{self.resilience!r}: restart it with FAILWHALE_RESILIENCE={self.resilience}"
            )

    def load_driver(self) -> LoadDriver:
        """The stack's own Locust master where it runs one (the backend says), else a Locust of
        our own with a seeded set of accounts."""
        load = self.scenario.load
        if (url := self.backend.stack_locust_url()) is not None:
            return MasterLoad(url, load, self.out, join=self.join)
        if importlib.util.find_spec("locust") is None:
            raise SetupError(
                "this run brings its own Locust, which is not installed: `make chaos ...` installs "
                "it (or: .venv/bin/pip install -e '.[load]')"
            )
        accounts = self.out / "accounts.json"
        asyncio.run(seed_stack(self.backend.gateway_url, load.accounts, load.seed, accounts, False))
        return LocustRun(self.backend.gateway_url, load, self.out, accounts)

    def run(self) -> RunResult:
        """The scenario, on a stack with the self-healing it requires (and as before after)."""
        try:
            with self_healing_as(self.backend, self.scenario.self_healing):
                return self._run()
        except ModeError as exc:
            raise SetupError(f"self-healing {self.scenario.self_healing}: {exc}") from exc

    def _run(self) -> RunResult:
        self.preflight()
        self.out.mkdir(parents=True, exist_ok=True)
        load = self.scenario.load
        locust = self.load_driver()
        previous = signal.signal(signal.SIGTERM, _interrupt)
        observer: Observer | None = None
        audited = False
        try:
            try:
                locust.start()
            except LoadBusy as exc:
                raise SetupError(str(exc)) from exc
            started = locust.started_at
            observer = Observer(
                self.backend.services(), locust.files.requests, locust.live, started
            )
            observer.start()
            self._drive(started, observer)
            audited = locust.wait() == 0
        finally:
            at_once(lambda fault: fault.revert(), self.applied)
            if observer is not None:
                observer.stop()
            locust.stop()
            signal.signal(signal.SIGTERM, previous)
        observation = Observation(
            scenario=self.scenario.name,
            backend=self.backend.name,
            resilience=self.resilience,
            duration_s=load.duration_s,
            requests=locust.requests(started),
            samples=observer.samples,
            faults=[fault.window(started) for fault in self.applied],
            oracles=locust.oracle_counts(),
            generator=read_generator(locust.files),
        )
        if self.scenario.resilience not in (None, self.resilience):
            observation.notes.append(
                f"the scenario is written for resilience {self.scenario.resilience} and ran "
                f"with {self.resilience}: hypotheses that expect fallbacks fail by design"
            )
        if getattr(locust, "joined", False):
            observation.notes.append(
                "the run joined a load already running (started from the web UI or another "
                "run): phases are measured from the run's start, the oracle counts are those "
                "found since then, and there is no final audit (the load goes on)"
            )
        elif not audited:
            observation.notes.append(
                "the load's final audit did not complete: oracle counts are from the live "
                "checks only, without the read-back of every acknowledged write"
            )
        return report_run(self.scenario, observation, self.out)

    def _drive(self, started: float, observer: Observer) -> None:
        pending = sorted(self.scenario.method, key=lambda f: f.at_s)
        duration = self.scenario.load.duration_s
        next_report = 0.0
        verified_at: dict[str, float] = {}  # a verification may be costly (a probe container)
        while True:
            now = time.time() - started
            if now >= duration:
                return
            due: list[FaultSpec] = []
            while pending and pending[0].at_s <= now:
                due.append(pending.pop(0))
            self.applied.extend(apply_all(self.backend, due))
            ended = [f for f in self.applied if not f.reverted and now >= f.spec.end_s]
            at_once(_verify_and_revert, ended)
            for fault in self.applied:
                if fault.reverted:
                    continue
                if not fault.took_effect and now - verified_at.get(fault.id, -9) >= VERIFY_EVERY_S:
                    verified_at[fault.id] = now
                    fault.verify()
            if now >= next_report:
                next_report = now + 1.0
                self.report(self._progress(now, observer))
            time.sleep(TICK_S)

    def _progress(self, now: float, observer: Observer) -> Progress:
        window = self.scenario.fault_window
        if window is None or now < window[0]:
            phase = "steady"
        elif now < window[1]:
            phase = "fault"
        else:
            phase = "recovery"
        active = [f"{f.kind} {f.target}" for f in self.applied if not f.reverted]
        left = max(0.0, self.scenario.load.duration_s - now)
        return Progress(phase, now, left, observer.latest, active)


def apply_all(backend: Backend, due: Sequence[FaultSpec]) -> list[AppliedFault]:
    """The faults due, applied together; each one's window starts when its apply began."""
    begun = time.time()
    applied = at_once(backend.apply, due)
    for fault in applied:
        fault.begun_at(begun)
    return applied


def _verify_and_revert(fault: AppliedFault) -> None:
    fault.verify()  # a last look before it is undone
    fault.revert()


def at_once(action: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """`action` on every item in threads of its own, results in the items' order: faults due at
    the same moment start (and end) together, and a revert that waits for a restarted service to
    be ready does not hold back the others. Every action runs even when one raises; the first
    error is raised after all have finished."""
    if len(items) <= 1:
        return [action(item) for item in items]
    with ThreadPoolExecutor(max_workers=len(items), thread_name_prefix="fault") as pool:
        futures = [pool.submit(action, item) for item in items]
        wait(futures)
    return [future.result() for future in futures]


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")
