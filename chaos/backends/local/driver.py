"""The local backend: the services as local processes (stack.local). Kill, stop, pause
and restart are signals to a service's process group; latency, injected errors and partitions go
through the services' fault hook; CPU load is busy-loop processes. The network of local
processes cannot be shaped, so packet loss is refused, and so is any hook fault on Redis."""

import signal
import threading
from pathlib import Path
from typing import Any

import httpx

from chaos import deadman
from chaos.backends import STACK_LOCUST_URL, inside_url
from chaos.backends.base import AppliedFault, Fault, FaultError, NotApplied, Where, fault_id
from chaos.backends.hook import ClearHookPlans, HookError, HookPart, HookPlans
from chaos.backends.local import faults
from chaos.backends.local import processes as proc
from chaos.backends.local.records import BusyLoopsEnded, GroupResumed, ServiceRunning
from chaos.backends.local.sweep import sweep
from chaos.fault_specs import (
    Cpu,
    HttpErrors,
    Kill,
    Latency,
    Loss,
    Partition,
    Pause,
    Restart,
    Stop,
    single_host_refusal,
)
from chaos.journal import Entry, Journal
from chaos.undo import UndoRecord
from services.common.auth import SERVICE_HEADER, TokenKeys, issue_service_token
from stack.layout import LocalLayout
from stack.local import LocalStack, StackError

READY_TIMEOUT_S = 30.0
CALLER = "failwhale-chaos"
DEFAULT_WORKDIR = Path(__file__).resolve().parents[3] / ".local"


def open_backend(where: Where) -> "LocalBackend":
    journal = None
    if where.journal_dir is not None:
        home = where.stack.workdir if where.stack is not None else where.workdir or DEFAULT_WORKDIR
        journal = Journal.for_scope("local", str(home.resolve()), where.journal_dir)
    if where.stack is not None:
        return LocalBackend(where.stack, journal)
    return LocalBackend.from_workdir(where.workdir or DEFAULT_WORKDIR, journal)


def reopen(journal: Journal) -> "LocalBackend":
    return LocalBackend.from_workdir(Path(journal.origin["scope"]), journal)


class LocalBackend:
    name = "local"

    def __init__(self, stack: LocalStack, journal: Journal | None = None) -> None:
        self.stack = stack
        self.layout = stack.layout
        self.journal = journal or Journal(
            stack.workdir / "chaos" / "local.json",
            {"backend": "local", "scope": str(stack.workdir.resolve())},
        )
        # What a dead-man timer or a sweep in another process needs to rebuild this backend.
        self.journal.origin.update(backend="local", scope=str(stack.workdir.resolve()))
        self.hooks = HookPlans(self)
        self.ready_timeout_s = READY_TIMEOUT_S
        # LocalStack is not thread-safe (its process table, its state file); overlapping
        # faults may be applied and reverted from several threads.
        self._lock = threading.RLock()
        self._env: dict[str, dict[str, str]] = {}

    @classmethod
    def from_workdir(cls, workdir: Path, journal: Journal | None = None) -> "LocalBackend":
        """The stack a `failwhale up --backend local` left in `workdir` (its stack.json)."""
        import json

        try:
            layout = json.loads((workdir / "stack.json").read_text())["layout"]
        except FileNotFoundError:
            layout = {}
        return cls(LocalStack(workdir, LocalLayout.from_state(layout)), journal)

    @property
    def gateway_url(self) -> str:
        return self.layout.gateway_url

    def services(self) -> dict[str, str]:
        urls = {spec.name: self.layout.url(spec.name) for spec in self.layout.services}
        urls["redis"] = f"redis://{self.layout.host}:{self.layout.redis_port}"
        return urls

    # -- the runner's interface ----------------------------------------------------------------

    def check(self, spec: Fault) -> str | None:
        if reason := single_host_refusal(spec):
            return reason
        if isinstance(spec, Loss):
            return "loss needs a network to shape; local processes have none (use --backend docker)"
        hooked = isinstance(spec, Latency | HttpErrors | Partition)
        sides = [spec.target, spec.peer] if isinstance(spec, Partition) else [spec.target]
        if hooked and "redis" in sides:
            return (
                f"{spec.fault} on the local backend goes through the fault hook, and redis has "
                "none (use --backend docker)"
            )
        if hooked:
            for side in sides:
                reason = self._hook_refusal(side)
                if reason:
                    return reason
        return None

    def apply(self, spec: Fault) -> AppliedFault:
        fid = fault_id(spec)
        fault: AppliedFault
        if reason := self.check(spec):
            return NotApplied(spec, fid, "refused", self.journal, reason)
        if isinstance(spec, Kill | Stop | Pause | Restart):
            fault = faults.apply_signal(self, spec, fid)
        elif isinstance(spec, Latency | HttpErrors | Partition):
            fault = faults.apply_hook(self, spec, fid)
        elif isinstance(spec, Cpu):
            fault = faults.apply_cpu(self, spec, fid)
        else:
            return NotApplied(spec, fid, "refused", self.journal, f"no local {spec.fault} fault")
        if not isinstance(fault, NotApplied):
            deadman.watch(self.journal)
        return fault

    def sweep(self) -> list[str]:
        return sweep(self)

    def stack_locust_url(self) -> str | None:
        """A local stack runs no Locust of its own, unless one was started beside it and named."""
        return inside_url(STACK_LOCUST_URL)

    def switch_resilience(self, mode: str) -> None:
        try:
            self.restart_stack({"FAILWHALE_RESILIENCE": mode})
        except StackError as exc:
            raise FaultError(
                f"the local stack did not start with resilience {mode}: {exc}"
            ) from exc

    def self_healing(self) -> str | None:
        return None  # local processes have no orchestrator

    def set_self_healing(self, mode: str) -> list[str]:
        raise FaultError("self-healing is an orchestrator's: run with --backend swarm")

    def close(self) -> None:
        """The run is over: its reverted entries are history (the report has them)."""
        self.journal.forget_reverted()

    def restart_stack(self, overrides: dict[str, str]) -> None:
        """Stop every process and start the whole stack again with `overrides` over the
        settings it ran with (resilience on or off, for `chaos compare`). Done through this
        backend's own stack, so the pids it signals afterwards are the new processes', and
        what it remembered of the old processes is dropped."""
        with self._lock:
            running = self._sibling_env("")  # any running service's: one stack, one set
            self.stack.env = {**self.stack.env, **running, **overrides}
            self._env.clear()
            self.stack.down()
            self.stack.up()

    # -- actions shared by the faults and the sweep -----------------------------------------

    def record(self, entry: Entry) -> None:
        self.journal.record(entry)

    def pid(self, service: str) -> int | None:
        with self._lock:
            try:
                return self.stack.pid(service)
            except KeyError:
                return None

    def remember_env(self, service: str, pid: int) -> None:
        """The FAILWHALE_* settings the process runs with (resilience on/off, secrets) that the
        layout does not set, so that a restart runs it the same way."""
        fixed = self.layout.environment(service) if service != "redis" else {}
        env = proc.environment_of(pid)
        self._env[service] = {
            k: v for k, v in env.items() if k.startswith("FAILWHALE_") and k not in fixed
        }

    def start(self, service: str) -> str:
        """Start the service if it is not running, and wait until it is ready."""
        started = self.start_process(service)
        if service == "redis":
            return started  # start_redis waited for PING
        ready, waited = proc.wait_ready(self.layout.url(service), self.ready_timeout_s)
        return f"{started}, {'ready' if ready else 'NOT ready'} after {waited:.1f} s"

    def start_process(self, service: str) -> str:
        with self._lock:
            pid = self.pid(service)
            if pid is not None and proc.alive(pid):
                return f"{service} running as pid {pid}"
            if service == "redis":
                self.stack.start_redis()
            else:
                saved = self.stack.env
                self.stack.env = {**saved, **self._env.get(service, self._sibling_env(service))}
                try:
                    self.stack.start_service(service)
                finally:
                    self.stack.env = saved
            return f"{service} started again as pid {self.pid(service)}"

    def stop(self, service: str) -> None:
        with self._lock:
            self.stack.stop(service)

    def kill(self, service: str) -> None:
        with self._lock:
            self.stack.send_signal(service, signal.SIGKILL)

    def undo(self, record: UndoRecord) -> str:
        if isinstance(record, ClearHookPlans):
            return record.undo(self.hooks)
        if isinstance(record, ServiceRunning):
            return record.undo(self)
        if isinstance(record, GroupResumed | BusyLoopsEnded):
            return record.undo()
        return f"{record.kind} is no local record: left alone"

    # -- the fault hook ----------------------------------------------------------------------

    def keys(self, service: str) -> TokenKeys:
        """The secrets the service runs with: read from its process (so a stack started with
        other secrets in another shell is reached all the same), else the layout's (those of
        the stack's state file)."""
        pid = self.pid(service)
        env = proc.environment_of(pid) if pid else {}
        return TokenKeys(
            env.get("FAILWHALE_TOKEN_SECRET") or self.layout.token_secret,
            env.get("FAILWHALE_INTERNAL_SECRET") or self.layout.internal_secret,
        )

    def credential(self, service: str, caller: str = CALLER) -> dict[str, str]:
        return {SERVICE_HEADER: issue_service_token(self.keys(service), caller)}

    def call(self, service: str, method: str, body: dict[str, Any] | None) -> tuple[int, Any]:
        # The hook listens on the service's internal port only, never on its public one.
        url = self.layout.internal_url(service) + "/internal/faults"
        try:
            answer = httpx.request(
                method, url, json=body, headers=self.credential(service), timeout=5
            )
        except httpx.HTTPError as exc:
            raise HookError(f"{service} does not answer on {url}: {exc!r}") from exc
        try:
            return answer.status_code, answer.json()
        except ValueError:
            return answer.status_code, answer.text

    def hook_active(self, service: str) -> bool:
        try:
            status, body = self.call(service, "GET", None)
        except HookError:
            return False
        return status == 200 and isinstance(body, dict) and body.get("remaining_s", 0) > 0

    def hook_part(self, service: str, fid: str, part: HookPart) -> None:
        self.hooks.add(service, fid, part)

    def _hook_refusal(self, service: str) -> str | None:
        off = f"the fault hook is off on {service}: run it with FAILWHALE_FAULT_HOOK=on"
        try:
            status, _ = self.call(service, "GET", None)
        except HookError:
            # No internal listener: the hook is off if the service itself answers, else the
            # service is not up yet (the runner checks before it starts the stack).
            try:
                up = httpx.get(self.layout.url(service) + "/healthz", timeout=2).is_success
            except httpx.HTTPError:
                up = False
            return off if up else None
        return off if status == 404 else None

    def _sibling_env(self, service: str) -> dict[str, str]:
        """Without the service's own environment (a sweep in another process), the settings of
        any other service still running: one stack runs with one set of settings."""
        for spec in self.layout.services:
            pid = self.pid(spec.name)
            if spec.name != service and pid is not None and proc.alive(pid):
                self.remember_env(spec.name, pid)
                return self._env.pop(spec.name)
        return {}
