"""The docker backend's container faults (kill, stop, pause, restart), injected errors through
the fault hook, and CPU load; and the undo of every journal entry the docker backend writes."""

import shlex
import time
from typing import ClassVar

from docker.errors import APIError
from docker.models.containers import Container

from chaos.backends.base import AppliedFault, NotApplied
from chaos.backends.docker.protocol import DockerDriver
from chaos.backends.docker.records import CPU_PIDFILE, BusyLoopsIn, ContainerRunning
from chaos.backends.hook import ClearHookPlans, HookError, HookPart
from chaos.fault_specs import Cpu, HttpErrors, Kill, Pause, Restart, Stop
from chaos.journal import Entry

STOP_TIMEOUT_S = 10
BUSY = "echo $$ >> {pidfile}; while :; do :; done"


def apply_state(
    backend: DockerDriver, spec: Kill | Stop | Pause | Restart, fid: str
) -> AppliedFault:
    began = time.monotonic()
    container = backend.container(spec.target)
    if container.status != "running":
        reason = f"{spec.target} is {container.status}, not running"
        return NotApplied(spec, fid, "docker", backend.journal, reason)
    was_started = container.attrs["State"]["StartedAt"]
    undo = ContainerRunning(container=container.id, paused=isinstance(spec, Pause))
    backend.journal.record(
        Entry(
            id=fid,
            kind=spec.fault,
            target=spec.target,
            mechanism="docker",
            undo=undo,
            expires_at=time.time() + spec.duration_s,
        )
    )
    try:
        if isinstance(spec, Kill):
            container.kill()
        elif isinstance(spec, Stop):
            container.stop(timeout=STOP_TIMEOUT_S)
        elif isinstance(spec, Pause):
            container.pause()
        else:
            container.restart(timeout=STOP_TIMEOUT_S)
    except APIError as exc:
        backend.journal.mark_reverted(fid, f"refused: {exc}")
        return NotApplied(spec, fid, "docker", backend.journal, f"docker refused: {exc}")
    backend.journal.update(fid, state="applied")
    fault = ContainerState(spec, fid, backend, container, was_started, undo)
    fault.apply_s = time.monotonic() - began
    return fault


class ContainerState(AppliedFault):
    WANTED: ClassVar[dict[str, tuple[str, ...]]] = {
        "kill": ("exited", "dead"),
        "stop": ("exited",),
        "pause": ("paused",),
    }

    def __init__(
        self,
        spec: Kill | Stop | Pause | Restart,
        fid: str,
        backend: DockerDriver,
        container: Container,
        was_started: str,
        undo: ContainerRunning,
    ) -> None:
        super().__init__(spec, fid, "docker", backend.journal)
        self.backend, self.container, self.was_started = backend, container, was_started
        self.undo = undo

    def _verify(self) -> tuple[bool, str]:
        self.container.reload()
        state = self.container.attrs["State"]
        status = state["Status"]
        if isinstance(self.spec, Restart):
            ok = status == "running" and state["StartedAt"] != self.was_started
            return (
                ok,
                f"{self.target} is {status}, started at {state['StartedAt']} "
                f"(before: {self.was_started})",
            )
        ok = status in self.WANTED[self.kind]
        detail = f", exit code {state['ExitCode']}" if status == "exited" else ""
        return ok, f"{self.target} container is {status}{detail}"

    def _revert(self) -> str:
        return self.undo.undo(self.backend)


# -- injected errors ---------------------------------------------------------------------------


def apply_errors(backend: DockerDriver, spec: HttpErrors, fid: str) -> AppliedFault:
    began = time.monotonic()
    backend.journal.record(
        Entry(
            id=fid,
            kind=spec.fault,
            target=spec.target,
            mechanism="fault-hook",
            undo=ClearHookPlans(services=(spec.target,)),
            expires_at=time.time() + spec.duration_s,
        )
    )
    try:
        part = HookPart(error_rate=spec.rate, duration_s=spec.duration_s)
        backend.hooks.add(spec.target, fid, part)
    except HookError as exc:
        backend.journal.mark_reverted(fid, str(exc))
        return NotApplied(spec, fid, "fault-hook", backend.journal, str(exc))
    backend.journal.update(fid, state="applied")
    fault = InjectedErrors(spec, fid, backend)
    fault.apply_s = time.monotonic() - began
    return fault


class InjectedErrors(AppliedFault):
    def __init__(self, spec: HttpErrors, fid: str, backend: DockerDriver) -> None:
        super().__init__(spec, fid, "fault-hook", backend.journal)
        self.backend = backend

    def _verify(self) -> tuple[bool, str]:
        assert isinstance(self.spec, HttpErrors)
        active = self.backend.hooks.active(self.target)
        ok = active["error_rate"] >= self.spec.rate and active["remaining_s"] > 0
        return ok, (
            f"fault hook on {self.target}: error rate {active['error_rate']}, "
            f"{active['remaining_s']:.0f} s left, {active['injected']} answers injected so far"
        )

    def _revert(self) -> str:
        self.backend.hooks.remove(self.target, self.id)
        return f"fault hook cleared on {self.target}"


# -- CPU ---------------------------------------------------------------------------------------


def apply_cpu(backend: DockerDriver, spec: Cpu, fid: str) -> AppliedFault:
    began = time.monotonic()
    container = backend.container(spec.target)
    pidfile = CPU_PIDFILE.format(id=fid)
    undo = BusyLoopsIn(container=container.id, pidfile=pidfile)
    backend.journal.record(
        Entry(
            id=fid,
            kind="cpu",
            target=spec.target,
            mechanism="busy-loop",
            undo=undo,
            expires_at=time.time() + spec.duration_s,
        )
    )
    # `timeout` ends each loop after the duration even if the runner dies; the launcher waits
    # for them so that they are reaped (the service is PID 1 and reaps nobody).
    loop = (
        f"timeout -s KILL {spec.duration_s:.0f} sh -c {shlex.quote(BUSY.format(pidfile=pidfile))}"
    )
    launcher = f"for i in $(seq {spec.workers}); do {loop} & done; wait"
    try:
        container.exec_run(["sh", "-c", launcher], detach=True)
    except APIError as exc:
        backend.journal.mark_reverted(fid, str(exc))
        return NotApplied(spec, fid, "busy-loop", backend.journal, f"docker exec refused: {exc}")
    backend.journal.update(fid, state="applied")
    fault = BusyLoops(spec, fid, backend, container, undo)
    fault.apply_s = time.monotonic() - began
    return fault


class BusyLoops(AppliedFault):
    """Busy loops inside the target container: they share its cgroup, so they compete with the
    service for the CPU it is allowed."""

    def __init__(
        self, spec: Cpu, fid: str, backend: DockerDriver, container: Container, undo: BusyLoopsIn
    ) -> None:
        super().__init__(spec, fid, "busy-loop", backend.journal)
        self.backend, self.container, self.undo = backend, container, undo
        self.pidfile = undo.pidfile

    def _verify(self) -> tuple[bool, str]:
        assert isinstance(self.spec, Cpu)
        ticks = (
            'for p in $(cat {f} 2>/dev/null); do echo $p $(cut -d" " -f14,15 /proc/$p/stat); done'
        )
        ticks = ticks.format(f=self.pidfile)
        time.sleep(0.3)  # the launcher may still be starting them
        _, out = self.container.exec_run(["sh", "-c", f"{ticks}; echo --; sleep 0.5; {ticks}"])
        before, _, after = out.decode().partition("--")
        first, second = _ticks(before), _ticks(after)
        burning = [p for p, t in second.items() if p in first and t > first[p]]
        ok = len(burning) >= self.spec.workers
        return ok, f"{len(burning)}/{self.spec.workers} busy loops burning CPU in {self.target}"

    def _revert(self) -> str:
        return self.undo.undo(self.backend)


def _ticks(text: str) -> dict[str, int]:
    found = {}
    for line in text.strip().splitlines():
        parts = line.split()
        if len(parts) == 3:
            found[parts[0]] = int(parts[1]) + int(parts[2])
    return found
