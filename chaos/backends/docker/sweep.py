"""The docker backend's sweep (`failwhale chaos sweep --backend docker`): undo whatever a killed
runner left behind. First what the journal says is still applied, then what a scan finds even
without a journal: our helper containers, paused or stopped containers of the project, iptables
rules carrying our marker and netem/tbf qdiscs in each container's namespace, busy loops,
fault-hook plans. Never run it while a run is going: it undoes that run's faults too."""

from concurrent.futures import ThreadPoolExecutor

from docker.models.containers import Container

from chaos.backends.base import undo_pending
from chaos.backends.docker.helpers import MARKER_PREFIX
from chaos.backends.docker.protocol import DockerDriver
from chaos.backends.docker.records import CPU_ALL, CPU_KILL, ensure_running
from chaos.backends.hook import HookError
from services.common.auth import SERVICE_HEADER


def sweep(backend: DockerDriver) -> list[str]:
    done = undo_pending(backend.journal, backend.undo)
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


def _clean_namespace(backend: DockerDriver, name: str, container: Container) -> list[str]:
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
