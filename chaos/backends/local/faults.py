"""The local backend's faults: each pairs its apply with its verify and revert. Every action is
written to the journal before it is taken, with what undoes it."""

import os
import signal
import statistics
import subprocess
import time

import httpx

from chaos.backends.base import AppliedFault, NotApplied
from chaos.backends.hook import ClearHookPlans, HookError, HookPart
from chaos.backends.local import processes as proc
from chaos.backends.local.protocol import LocalDriver
from chaos.backends.local.records import BusyLoopsEnded, GroupResumed, ServiceRunning
from chaos.fault_specs import Cpu, HttpErrors, Kill, Latency, Partition, Pause, Restart, Stop
from chaos.journal import Entry

PROBE_PATH = "/internal/chaos-probe"  # not a route: answered 404 after the hook had its say


def apply_signal(
    backend: LocalDriver, spec: Kill | Stop | Pause | Restart, fid: str
) -> AppliedFault:
    began = time.monotonic()
    name = spec.target
    pid = backend.pid(name)
    if pid is None or not proc.alive(pid):
        return NotApplied(spec, fid, "signal", backend.journal, f"{name} is not running")
    start = proc.starttime(pid)
    backend.remember_env(name, pid)
    undo: GroupResumed | ServiceRunning
    if isinstance(spec, Pause):
        undo = GroupResumed(pid=pid, starttime=start)
    else:
        undo = ServiceRunning(service=name)
    backend.record(
        Entry(
            id=fid,
            kind=spec.fault,
            target=name,
            mechanism="signal",
            undo=undo,
            expires_at=time.time() + spec.duration_s,
        )
    )
    fault: AppliedFault
    try:
        if isinstance(spec, Kill):
            backend.kill(name)
            fault = Gone(spec, fid, backend, pid, "SIGKILL to its process group")
        elif isinstance(spec, Stop):
            backend.stop(name)
            fault = Gone(spec, fid, backend, pid, "SIGTERM, stopped gracefully")
        elif isinstance(spec, Pause):
            os.killpg(pid, signal.SIGSTOP)
            fault = Frozen(spec, fid, backend, pid, start)
        else:
            backend.stop(name)
            backend.start_process(name)
            fault = Restarted(spec, fid, backend, pid)
    except ProcessLookupError:
        backend.journal.mark_reverted(fid, "the process was gone")
        return NotApplied(spec, fid, "signal", backend.journal, f"pid {pid} of {name} is gone")
    backend.journal.update(fid, state="applied")
    fault.apply_s = time.monotonic() - began
    return fault


class Gone(AppliedFault):
    """Killed or stopped: gone until revert starts it again."""

    def __init__(
        self, spec: Kill | Stop | Restart, fid: str, backend: LocalDriver, pid: int, how: str
    ):
        super().__init__(spec, fid, "signal", backend.journal)
        self.backend, self.pid, self.how = backend, pid, how

    def _verify(self) -> tuple[bool, str]:
        if proc.wait_until(lambda: not proc.alive(self.pid), 2.0):
            return True, f"{self.target} (pid {self.pid}) is not running: {self.how}"
        return False, f"{self.target} (pid {self.pid}) is still running ({self.how} sent)"

    def _revert(self) -> str:
        return self.backend.start(self.target)


class Restarted(Gone):
    def __init__(self, spec: Restart, fid: str, backend: LocalDriver, old_pid: int):
        super().__init__(spec, fid, backend, old_pid, "stopped and started again")

    def _verify(self) -> tuple[bool, str]:
        new = self.backend.pid(self.target)
        if new is not None and new != self.pid and proc.alive(new) and not proc.alive(self.pid):
            return True, f"{self.target} restarted: pid {self.pid} stopped, pid {new} running"
        return False, f"{self.target} was not restarted (old pid {self.pid}, now {new})"


class Frozen(AppliedFault):
    def __init__(self, spec: Pause, fid: str, backend: LocalDriver, pid: int, start: int | None):
        super().__init__(spec, fid, "signal", backend.journal)
        self.backend, self.pid, self.start = backend, pid, start

    def _verify(self) -> tuple[bool, str]:
        if proc.wait_until(lambda: proc.state(self.pid) == "T", 2.0):
            return True, f"{self.target} (pid {self.pid}) is in state T (stopped by SIGSTOP)"
        return False, f"{self.target} (pid {self.pid}) is in state {proc.state(self.pid)}, not T"

    def _revert(self) -> str:
        done = GroupResumed(pid=self.pid, starttime=self.start).undo()
        running = proc.wait_until(lambda: proc.state(self.pid) not in ("T", None), 2.0)
        return f"{done}; state {proc.state(self.pid)}" + ("" if running else " (still stopped)")


# -- the fault hook: latency, injected errors, partitions ---------------------------------------


def apply_hook(
    backend: LocalDriver, spec: Latency | HttpErrors | Partition, fid: str
) -> AppliedFault:
    began = time.monotonic()
    parts: dict[str, HookPart] = {}
    if isinstance(spec, Latency):
        parts[spec.target] = HookPart(spec.delay_ms, spec.jitter_ms, duration_s=spec.duration_s)
    elif isinstance(spec, HttpErrors):
        parts[spec.target] = HookPart(error_rate=spec.rate, duration_s=spec.duration_s)
    else:
        # Each side holds the other's requests: the hook sees callers by their credential.
        parts[spec.target] = HookPart(blackhole_callers=(spec.peer,), duration_s=spec.duration_s)
        parts[spec.peer] = HookPart(blackhole_callers=(spec.target,), duration_s=spec.duration_s)
    baseline = _probe_ms(backend, spec.target, samples=3) if isinstance(spec, Latency) else []
    peer = spec.peer if isinstance(spec, Partition) else None
    backend.record(
        Entry(
            id=fid,
            kind=spec.fault,
            target=spec.target,
            mechanism="fault-hook",
            undo=ClearHookPlans(services=tuple(sorted(parts))),
            peer=peer,
            expires_at=time.time() + spec.duration_s,
        )
    )
    done: list[str] = []
    try:
        for service, part in parts.items():
            backend.hook_part(service, fid, part)
            done.append(service)
    except HookError as exc:
        for service in done:
            backend.hooks.remove(service, fid)
        backend.journal.mark_reverted(fid, str(exc))
        return NotApplied(spec, fid, "fault-hook", backend.journal, str(exc))
    backend.journal.update(fid, state="applied")
    fault = Hooked(spec, fid, backend, parts, baseline)
    fault.apply_s = time.monotonic() - began
    return fault


class Hooked(AppliedFault):
    def __init__(
        self,
        spec: Latency | HttpErrors | Partition,
        fid: str,
        backend: LocalDriver,
        parts: dict[str, HookPart],
        baseline_ms: list[float],
    ) -> None:
        super().__init__(spec, fid, "fault-hook", backend.journal)
        self.backend, self.parts, self.baseline_ms = backend, parts, baseline_ms

    def _verify(self) -> tuple[bool, str]:
        for service, part in self.parts.items():
            active = self.backend.hooks.active(service)
            if active["remaining_s"] <= 0 or not _covers(active, part):
                return False, f"the fault hook of {service} does not hold the fault: {active}"
        spec = self.spec
        if isinstance(spec, Latency):
            during = _probe_ms(self.backend, spec.target, samples=3 if spec.delay_ms <= 500 else 1)
            now_ms, was_ms = statistics.median(during), statistics.median(self.baseline_ms)
            added = now_ms - was_ms
            ok = added >= 0.5 * max(spec.delay_ms - spec.jitter_ms, 0.25 * spec.delay_ms)
            return ok, (
                f"fault hook on {spec.target}: requests {added:.0f} ms slower than before "
                f"(median {now_ms:.0f} ms, was {was_ms:.0f} ms)"
            )
        if isinstance(spec, HttpErrors):
            codes = [_probe_status(self.backend, spec.target) for _ in range(20)]
            return (
                True,
                f"fault hook on {spec.target}: error rate {spec.rate:g} active, "
                f"{codes.count(503)}/20 probe requests answered 503",
            )
        assert isinstance(spec, Partition)
        held = _is_held(self.backend, spec.target, caller=spec.peer)
        return (
            held,
            f"fault hook blackholes {spec.peer} at {spec.target} and {spec.target} at "
            f"{spec.peer}; a request from {spec.peer} to {spec.target} "
            + ("was held" if held else "got through"),
        )

    def _revert(self) -> str:
        for service in self.parts:
            self.backend.hooks.remove(service, self.id)
        return f"fault hook cleared on {', '.join(self.parts)}"


def _covers(active: dict[str, object], part: HookPart) -> bool:
    callers = active.get("blackhole_callers") or []
    assert isinstance(callers, list)
    return (
        float(str(active["latency_ms"])) >= part.latency_ms
        and float(str(active["error_rate"])) >= part.error_rate
        and set(part.blackhole_callers) <= set(callers)
    )


def _probe_ms(backend: LocalDriver, service: str, samples: int) -> list[float]:
    times = []
    for _ in range(samples):
        began = time.perf_counter()
        httpx.get(backend.layout.url(service) + PROBE_PATH, timeout=60)
        times.append((time.perf_counter() - began) * 1000)
    return times


def _probe_status(backend: LocalDriver, service: str) -> int:
    return httpx.get(backend.layout.url(service) + PROBE_PATH, timeout=5).status_code


def _is_held(backend: LocalDriver, service: str, caller: str) -> bool:
    try:
        httpx.get(
            backend.layout.url(service) + PROBE_PATH,
            headers=backend.credential(service, caller),
            timeout=1.0,
        )
    except httpx.TimeoutException:
        return True
    return False


# -- CPU ---------------------------------------------------------------------------------------


def apply_cpu(backend: LocalDriver, spec: Cpu, fid: str) -> AppliedFault:
    began = time.monotonic()
    entry = Entry(
        id=fid,
        kind="cpu",
        target=spec.target,
        mechanism="busy-loop",
        undo=BusyLoopsEnded(),
        expires_at=time.time() + spec.duration_s,
    )
    backend.record(entry)
    loops = proc.spawn_busy_loops(spec.workers, spec.duration_s, fid)
    pids = tuple((p.pid, proc.starttime(p.pid)) for p in loops)
    backend.journal.update(fid, state="applied", undo=BusyLoopsEnded(pids=pids))
    fault = Busy(spec, fid, backend, loops)
    fault.apply_s = time.monotonic() - began
    return fault


class Busy(AppliedFault):
    """Busy loops competing for the CPU (local processes share it: no cgroup to aim at)."""

    def __init__(
        self, spec: Cpu, fid: str, backend: LocalDriver, loops: list[subprocess.Popen[bytes]]
    ):
        super().__init__(spec, fid, "busy-loop", backend.journal)
        self.loops = loops

    def _verify(self) -> tuple[bool, str]:
        before = {p.pid: proc.cpu_ticks(p.pid) for p in self.loops}
        time.sleep(0.5)
        burning = [
            pid
            for pid, ticks in before.items()
            if ticks is not None and (proc.cpu_ticks(pid) or 0) > ticks
        ]
        ok = len(burning) == len(self.loops)
        return (
            ok,
            f"{len(burning)}/{len(self.loops)} busy loops burning CPU (pids {sorted(before)})",
        )

    def _revert(self) -> str:
        for loop in self.loops:
            if loop.poll() is None:
                loop.kill()
            loop.wait(timeout=5)
        return f"{len(self.loops)} busy loops ended"
