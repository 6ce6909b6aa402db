"""The docker backend's undo records, each with its undo: a container to have running again, a
network fault's helper and rules to remove, busy loops to end. A journal holds them, so the undo
works from the record alone (a dead-man timer, a sweep in another process). Engines whose tasks
are containers (swarm) reuse them through `ContainerHands`."""

from typing import Literal, Protocol

from docker.errors import APIError, NotFound
from docker.models.containers import Container

from chaos.backends.docker.helpers import Helpers
from chaos.undo import UndoRecord

CPU_PIDFILE = "/tmp/failwhale-chaos-cpu-{id}.pids"
CPU_ALL = "/tmp/failwhale-chaos-cpu-*.pids"
# Kills only processes that still are our busy loops (a pid in a stale file may be reused).
CPU_KILL = (
    'for f in {files}; do [ -e "$f" ] || continue; for p in $(cat "$f"); do '
    'grep -q "while :" /proc/$p/cmdline 2>/dev/null && kill -9 $p && echo killed $p; done; '
    'rm -f "$f"; done; true'
)


class ContainerHands(Protocol):
    """What undoing a container's fault needs from an engine."""

    helpers: Helpers

    def owned(self, container_id: str) -> Container | None:
        """The container if it exists and belongs to the engine's project, else None."""
        ...

    def wait_ready(self, container: Container) -> tuple[bool, float]: ...


class ContainerRunning(UndoRecord):
    """Killed, stopped, paused or restarted: the container is to be running (and ready)."""

    kind: Literal["docker-container"] = "docker-container"
    container: str
    paused: bool = False  # what the fault did: said in the journal, the undo is the same

    def undo(self, hands: ContainerHands) -> str:
        container = hands.owned(self.container)
        if container is None:
            return "container gone or not ours: nothing to undo"
        return ensure_running(hands, container)


class NetworkRules(UndoRecord):
    """A network fault held by a helper container in the target's namespace: the holder (it
    removes its rules when stopped), the latency prober, and the marker on every rule, by which
    the namespace is cleaned when the holder left no clean report."""

    kind: Literal["docker-network"] = "docker-network"
    container: str
    marker: str
    holder: str
    prober: str | None = None
    qdisc: bool = False

    def undo(self, hands: ContainerHands) -> str:
        if self.prober:
            hands.helpers.remove(self.prober)
        report = hands.helpers.release(self.holder)
        if report is not None and not report.get("failures"):
            relay = report["reverted"]
            carried = relay.get("connections")
            through = "" if carried is None else f"; the relay carried {carried} connections"
            return f"rules removed by the helper{through}"
        target = hands.owned(self.container)
        if target is None or target.status not in ("running", "paused"):
            return "the target's namespace is gone with its container: nothing left"
        cleanup = {
            "command": "cleanup",
            "marker_prefix": self.marker,
            "qdisc_kinds": ["netem"] if self.qdisc else [],
        }
        done = hands.helpers.once(self.marker.split(":")[-1], target, cleanup)
        return f"cleaned by marker: {len(done['removed'])} removed, failures: {done['failures']}"


class BusyLoopsIn(UndoRecord):
    """Busy loops run inside a container, their pids in a file there."""

    kind: Literal["docker-busy-loops"] = "docker-busy-loops"
    container: str
    pidfile: str

    def undo(self, hands: ContainerHands) -> str:
        container = hands.owned(self.container)
        if container is None:
            return "container gone or not ours: nothing to undo"
        if container.status != "running":
            return f"{container.name} is {container.status}: its busy loops are gone"
        container.exec_run(["sh", "-c", CPU_KILL.format(files=self.pidfile)])
        return f"busy loops ended in {container.name}"


DockerRecord = ContainerRunning | NetworkRules | BusyLoopsIn


def ensure_running(hands: ContainerHands, container: Container) -> str:
    container.reload()
    was = container.status
    try:
        if was == "paused":
            container.unpause()
        elif was != "running":
            container.start()
    except (APIError, NotFound) as exc:
        return f"could not start {container.name} ({was}): {exc}"
    ready, waited = hands.wait_ready(container)
    return f"{container.name} was {was}, now running; " + (
        f"ready after {waited:.1f} s" if ready else f"NOT ready after {waited:.0f} s"
    )
