"""The Chirp stack as local processes: a redis-server of its own and one uvicorn per service.

Each process runs in a session of its own, so stopping one stops all its children; the pids are
kept in `<workdir>/stack.json` so that `down` finds them from another shell.

Redis keeps an append-only file; how often it is fsynced is `redis_appendfsync` (the
constructor's argument, else FAILWHALE_REDIS_APPENDFSYNC, else `everysec`): `always` loses no
acknowledged write even to a crash of the machine, `everysec` may lose about a second of them
to a crash of the machine or, while a slow fsync holds back its writes, to a kill of the process
(docs/reliability.md, check 2).
"""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import redis

from stack.layout import LocalLayout, ServiceSpec

READY_TIMEOUT_S = 30.0
# uvicorn's httptools protocol with limits on request heads and slow clients (the same flag as
# in docker-compose.yml and the Dockerfile).
HTTP_PROTOCOL = "services.common.http_guard:GuardedHttpTools"
STOP_TIMEOUT_S = 10.0
APPENDFSYNC_POLICIES = ("always", "everysec", "no")
APPENDFSYNC_ENV = "FAILWHALE_REDIS_APPENDFSYNC"


class StackError(RuntimeError):
    pass


@dataclass
class RunningProcess:
    name: str
    pid: int
    log: str


class LocalStack:
    def __init__(
        self,
        workdir: Path,
        layout: LocalLayout | None = None,
        env: dict[str, str] | None = None,
        redis_appendfsync: str | None = None,
    ) -> None:
        self.workdir = workdir
        # Without a layout: the user's stack, with the checkout's secrets (.env).
        self.layout = layout or LocalLayout.of_checkout()
        self.env = env or {}
        self.redis_appendfsync = redis_appendfsync or os.environ.get(APPENDFSYNC_ENV, "everysec")
        # Popen handles of the processes this object started (pids alone come from the state
        # file when another process started them).
        self._children: dict[int, subprocess.Popen[bytes]] = {}
        self.logs = workdir / "logs"
        self.state_file = workdir / "stack.json"
        self.processes: dict[str, RunningProcess] = {}

    # -- whole stack -------------------------------------------------------------------------

    def up(self, progress: Callable[[str], None] = lambda _: None) -> None:
        if self.is_up():
            progress("already up")
            return
        self.logs.mkdir(parents=True, exist_ok=True)
        try:
            progress(f"redis on :{self.layout.redis_port}")
            self.start_redis()
            for spec in self.layout.services:
                progress(f"{spec.name} on :{spec.port}")
                self.start_service(spec.name)
            for spec in self.layout.services:
                self.wait_ready(spec.name)
        except BaseException:
            self.down()
            raise
        progress(f"ready: gateway on {self.layout.gateway_url}")

    def down(self) -> None:
        self._load_state()
        restarted = self._restarted_elsewhere()
        for name in [s.name for s in self.layout.services] + ["redis"]:
            if name in self.processes:
                self.stop(name)
            if name in restarted:
                _stop_group(restarted[name], signal.SIGTERM)
        self.state_file.unlink(missing_ok=True)

    def _restarted_elsewhere(self) -> dict[str, int]:
        """Processes that another object over the same folder started again since this one
        read the state (a chaos backend reverting a kill, the chaos console's agent): the state
        file has their pids, while this object still holds the old ones."""
        if not self.processes or not self.state_file.exists():
            return {}
        try:
            recorded = json.loads(self.state_file.read_text())["processes"]
        except (OSError, ValueError, KeyError):
            return {}
        mine = {process.pid for process in self.processes.values()}
        found = {str(p["name"]): int(p["pid"]) for p in recorded}
        return {name: pid for name, pid in found.items() if pid not in mine and _alive(pid)}

    def is_up(self) -> bool:
        self._load_state()
        return bool(self.processes) and all(_alive(p.pid) for p in self.processes.values())

    # -- single processes ----------------------------------------------------------------------

    def start_redis(self) -> None:
        server = shutil.which("redis-server")
        if server is None:
            raise StackError("redis-server is not installed (apt-get install redis-server)")
        if self.redis_appendfsync not in APPENDFSYNC_POLICIES:
            raise StackError(
                f"appendfsync must be one of {', '.join(APPENDFSYNC_POLICIES)}, "
                f"not {self.redis_appendfsync!r}"
            )
        data = self.workdir / "redis"
        data.mkdir(parents=True, exist_ok=True)
        # The password goes in on stdin (`-` reads a config file there), not in argv, where
        # `ps` would show it to every user of the machine.
        command = [
            server, "-",
            "--port", str(self.layout.redis_port),
            "--bind", self.layout.host,
            "--dir", str(data),
            "--appendonly", "yes",
            "--appendfsync", self.redis_appendfsync,
            # Full is a refused write (a 503), never data evicted without a word.
            "--maxmemory-policy", "noeviction",
            "--save", "",
            "--daemonize", "no",
        ]  # fmt: skip
        config = f"requirepass {self.layout.redis_password}\n"
        self._spawn("redis", command, os.environ.copy(), stdin_text=config)
        self._wait(
            "redis",
            lambda: redis.Redis.from_url(self.layout.redis_url, socket_timeout=1).ping(),
        )

    def start_service(self, name: str) -> None:
        spec = self._spec(name)
        command = [
            sys.executable, "-m", "uvicorn", f"{spec.module}:create_app", "--factory",
            "--host", self.layout.host, "--port", str(spec.port), "--no-access-log",
            "--http", HTTP_PROTOCOL,
        ]  # fmt: skip
        env = os.environ.copy() | self.layout.environment(name) | self.env
        env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
        self._spawn(name, command, env)

    def wait_ready(self, name: str, timeout_s: float = READY_TIMEOUT_S) -> None:
        url = self.layout.url(name) + "/readyz"
        self._wait(name, lambda: httpx.get(url, timeout=1).raise_for_status(), timeout_s)

    def stop(self, name: str, sig: signal.Signals = signal.SIGTERM) -> None:
        process = self.processes.pop(name, None)
        if process is None:
            return
        _stop_group(process.pid, sig)
        child = self._children.pop(process.pid, None)
        if child is not None:
            child.wait(timeout=STOP_TIMEOUT_S)
        self._save_state()

    def send_signal(self, name: str, sig: signal.Signals) -> None:
        """Signal a running process group (SIGKILL, SIGSTOP, SIGCONT) and leave its record."""
        self._load_state()
        os.killpg(self.processes[name].pid, sig)
        if sig == signal.SIGKILL:
            child = self._children.get(self.processes[name].pid)
            if child is not None:
                child.wait(timeout=STOP_TIMEOUT_S)

    def restart(self, name: str) -> None:
        """Start a process again (after a kill) and wait until it is ready."""
        self._load_state()
        if name in self.processes and _alive(self.processes[name].pid):
            self.stop(name)
        if name == "redis":
            self.start_redis()
        else:
            self.start_service(name)
            self.wait_ready(name)

    def pid(self, name: str) -> int:
        self._load_state()
        return self.processes[name].pid

    # -- internals -------------------------------------------------------------------------------

    def _spec(self, name: str) -> ServiceSpec:
        for spec in self.layout.services:
            if spec.name == name:
                return spec
        raise StackError(f"no service {name!r}")

    def _spawn(
        self, name: str, command: list[str], env: dict[str, str], stdin_text: str | None = None
    ) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)  # start_redis may come before up()
        log = self.logs / f"{name}.log"
        with log.open("ab") as out:
            child = subprocess.Popen(
                command,
                stdin=subprocess.PIPE if stdin_text is not None else None,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        if child.stdin is not None:
            with child.stdin:
                child.stdin.write((stdin_text or "").encode())
        self._children[child.pid] = child
        self.processes[name] = RunningProcess(name, child.pid, str(log))
        self._save_state()

    def _wait(self, name: str, probe: Callable[[], object], timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            process = self.processes[name]
            if not _alive(process.pid):
                raise StackError(f"{name} exited at start; its log:\n{_tail(process.log)}")
            try:
                probe()
                return
            except Exception as exc:  # any failure of the probe means "not yet"
                if time.monotonic() > deadline:
                    raise StackError(
                        f"{name} not ready after {timeout_s:.0f} s ({exc}); its log:\n"
                        + _tail(process.log)
                    ) from exc
                time.sleep(0.1)

    def _save_state(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        state = {
            "layout": self.layout.state(),  # the secrets too: the file is private
            "redis_appendfsync": self.redis_appendfsync,
            "processes": [asdict(p) for p in self.processes.values()],
        }
        fd = os.open(self.state_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # a file written by an older version may be world-readable
        with os.fdopen(fd, "w") as out:
            out.write(json.dumps(state, indent=2))

    def _load_state(self) -> None:
        if self.processes or not self.state_file.exists():
            return
        state = json.loads(self.state_file.read_text())
        self.processes = {p["name"]: RunningProcess(**p) for p in state["processes"]}
        # A Redis restarted from another shell (a chaos run) keeps the policy it was started with.
        self.redis_appendfsync = state.get("redis_appendfsync", self.redis_appendfsync)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by us) counts as gone.
    try:
        status = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except (OSError, IndexError):
        return False
    return status != "Z"


def _stop_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
        # A paused process (SIGSTOP) only acts on the signal once it runs again.
        os.killpg(pid, signal.SIGCONT)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline:
        _reap(pid)
        if not _alive(pid):
            return
        time.sleep(0.05)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    _reap(pid)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _tail(path: str, lines: int = 30) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
