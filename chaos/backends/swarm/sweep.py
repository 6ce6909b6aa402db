"""`failwhale chaos sweep --backend swarm`: undo what a killed runner left in a swarm stack. First
what the journal says is still applied, then what a scan finds without it: our helper
containers, services a scale left with fewer replicas (the count before is in a label on the
service), nodes a drain left drained (a label names the stack), and in each running task's
namespace iptables rules with our marker, netem/tbf qdiscs, busy loops and fault-hook plans."""

from concurrent.futures import ThreadPoolExecutor

from docker.errors import APIError
from docker.models.containers import Container

from chaos.backends.docker.helpers import MARKER_PREFIX
from chaos.backends.docker.records import CPU_ALL, CPU_KILL
from chaos.backends.hook import HookError
from chaos.backends.swarm.protocol import SwarmDriver
from services.common.auth import SERVICE_HEADER


def sweep_swarm(backend: SwarmDriver) -> list[str]:
    done = []
    for entry in backend.journal.pending():
        try:
            done.append(f"{entry.id}: {backend.undo(entry.undo)}")
        except Exception as exc:  # the scan that follows gets another go at it
            done.append(f"{entry.id}: undo failed ({exc!r}); left to the scan")
        backend.journal.mark_reverted(entry.id, "swept")
    backend.journal.forget_reverted()
    for helper in backend.helpers.leftovers():
        backend.helpers.remove(helper)
        done.append(f"helper container {helper.name} removed")
    for service, replicas in sorted(backend.engine.scaled_by_chaos().items()):
        done.append(backend.replicas_back(service, replicas))
    for node in backend.engine.drained_by_chaos():
        done.append(backend.node_back(node, "active"))
    running = sorted(backend.containers().items())
    with ThreadPoolExecutor(max_workers=4) as pool:
        for lines in pool.map(lambda nc: _clean_namespace(backend, *nc), running):
            done += lines
    return done


def _clean_namespace(backend: SwarmDriver, name: str, container: Container) -> list[str]:
    """Our rules, qdiscs and fault-hook plan in one task's namespace, and its busy loops."""
    if container.status == "paused":
        container.unpause()
        done = [f"{name}: unpaused"]
    else:
        done = []
    hook = None
    if not name.startswith("redis."):
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
    try:
        report = backend.helpers.once("sweep", container, spec)
    except APIError as exc:  # the task ended meanwhile: its namespace went with it
        return [*done, f"{name}: not cleaned ({exc.explanation})"]
    done += [f"{name}: {item}" for item in report["removed"]]
    done += [f"{name}: FAILED {item}" for item in report["failures"]]
    _, out = container.exec_run(["sh", "-c", CPU_KILL.format(files=CPU_ALL)])
    done += [
        f"{name}: busy loop {line.split()[-1]} ended"
        for line in out.decode().splitlines()
        if line.startswith("killed ")
    ]
    return done
