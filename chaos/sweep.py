"""`failwhale chaos sweep`: undo whatever a killed runner left behind. First what the journal
says is still applied, then what a scan finds even without a journal: our helper containers,
paused or stopped containers of the project, iptables rules carrying our marker and netem/tbf
qdiscs in each container's namespace, busy loops, fault-hook plans. Never run it while a run
is going: it undoes that run's faults too."""

import os
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from docker.models.containers import Container

from chaos.backends.base import undo_pending
from chaos.backends.docker.helpers import MARKER_PREFIX
from chaos.backends.docker.records import CPU_ALL, CPU_KILL, ensure_running
from chaos.backends.hook import HookError
from chaos.backends.local import processes as proc
from services.common.auth import SERVICE_HEADER

if TYPE_CHECKING:
    from chaos.backends.docker.driver import DockerBackend
    from chaos.backends.local.driver import LocalBackend


def sweep_docker(backend: "DockerBackend") -> list[str]:
    done = undo_pending(backend)
    for helper in backend.helpers.leftovers():
        helper.remove(force=True)
        done.append(f"helper container {helper.name} removed")
    running: list[tuple[str, Container]] = []
    for name, container in sorted(backend.containers().items()):
        if container.status != "running":
            done.append(ensure_running(backend, container))
            container.reload()
        if container.status == "running":
            running.append((name, container))
    # A helper per container costs about a second: the namespaces are cleaned side by side.
    with ThreadPoolExecutor(max_workers=4) as pool:
        for lines in pool.map(lambda nc: _clean_namespace(backend, *nc), running):
            done += lines
    return done


def _clean_namespace(backend: "DockerBackend", name: str, container: Container) -> list[str]:
    hook = None
    if name != "redis":
        try:
            token = backend.token(container)
        except HookError:  # no secrets in its environment: no hook to clear either
            token = None
        if token:
            hook = {"port": backend.hook_port(container), "header": SERVICE_HEADER, "token": token}
    spec = {
        "command": "cleanup",
        "marker_prefix": MARKER_PREFIX,
        "qdisc_kinds": ["netem", "tbf"],
        "hook": hook,
    }
    report = backend.helpers.once("sweep", container, spec)
    done = [f"{name}: {item}" for item in report["removed"]]
    done += [f"{name}: FAILED {item}" for item in report["failures"]]
    _, out = container.exec_run(["sh", "-c", CPU_KILL.format(files=CPU_ALL)])
    done += [
        f"{name}: busy loop {line.split()[-1]} ended"
        for line in out.decode().splitlines()
        if line.startswith("killed ")
    ]
    return done


def sweep_local(backend: "LocalBackend") -> list[str]:
    done = undo_pending(backend)
    for loop in _busy_loops():
        os.kill(loop, signal.SIGKILL)
        done.append(f"busy loop {loop} killed")
    if not backend.stack.state_file.exists():
        return done  # the stack is down: nothing should be running
    for name in [s.name for s in backend.layout.services] + ["redis"]:
        pid = backend.pid(name)
        if pid is not None and proc.state(pid) == "T":
            os.killpg(pid, signal.SIGCONT)
            done.append(f"{name}: SIGCONT to process group {pid}")
        elif pid is None or not proc.alive(pid):
            done.append(backend.start(name))
        if name != "redis" and backend.hook_active(name):
            backend.hooks.clear(name)
            done.append(f"{name}: fault hook plan cleared")
    return done


def _busy_loops() -> list[int]:
    """Our busy loops still running (tagged in their command line), of this user only."""
    found = []
    for path in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if path.stat().st_uid != os.getuid():
                continue
            if proc.CPU_TAG.encode() + b":" in path.read_bytes():
                found.append(int(path.parent.name))
        except OSError:
            continue
    return [pid for pid in found if pid != os.getpid()]
