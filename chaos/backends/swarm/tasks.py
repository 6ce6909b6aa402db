"""The tasks of a swarm stack as the chaos engine sees them, and which of them a fault's target
picks: `timeline-1` is the first slot of the timeline service (what compose calls timeline-1:
slot 1, unless a scale down removed it), a bare service name is its running tasks, narrowed by
the fault's `replicas` (one, all, or a share)."""

import math
from dataclasses import dataclass
from typing import Any

from chaos.fault_specs import SLOTS, Partition

STACK_LABEL = "com.docker.stack.namespace"
WANTED = ("running", "ready")  # desired states of a task the engine keeps in its slot


@dataclass(frozen=True)
class Task:
    """One task of a service: `state` is swarm's view (running, starting, failed, ...)."""

    service: str  # the stack's service name without the stack prefix: timeline, posts, ...
    slot: int
    id: str
    container_id: str
    node_id: str
    state: str
    desired: str
    version: int = 0  # the orchestrator's index of the task's last change: later is newer

    @property
    def running(self) -> bool:
        return self.state == "running" and self.desired == "running"

    @property
    def label(self) -> str:
        return f"{self.service}.{self.slot}"


class TargetError(ValueError):
    """A target that names nothing in the stack, or tasks the engine cannot reach."""


def task_of(service: str, raw: dict[str, Any]) -> Task:
    """A task from the Docker API's task object."""
    status = raw.get("Status") or {}
    container = (status.get("ContainerStatus") or {}).get("ContainerID") or ""
    return Task(
        service=service,
        slot=int(raw.get("Slot") or 0),
        id=str(raw["ID"]),
        container_id=str(container),
        node_id=str(raw.get("NodeID") or ""),
        state=str(status.get("State") or ""),
        desired=str(raw.get("DesiredState") or ""),
        version=int((raw.get("Version") or {}).get("Index") or 0),
    )


def service_of(target: str) -> tuple[str, int | None]:
    """The service a target names, and the slot if it names one task."""
    if target in SLOTS:
        return SLOTS[target]
    return target, None


def share(count: int, replicas: str | float | None) -> int:
    """How many of `count` running tasks a `replicas` selector picks (at least one of them)."""
    if count == 0:
        return 0
    if replicas is None or replicas == "all":
        return count
    if replicas == "one":
        return 1
    return max(1, min(count, math.ceil(float(replicas) * count)))


def slots(tasks: list[Task], service: str, replicas: int | None = None) -> list[int]:
    """The service's slots, lowest first. A slot keeps its number while its tasks die and are
    replaced; a scale down removes slots, and the engine may remove any of them, not only the
    highest, and soon forgets the removed task itself (only its slot's older, shut-down tasks
    stay in the history). So, given the service's `replicas`: the slots with a task the engine
    wants running, then, while fewer than `replicas`, the slots whose newest task was shut down
    most recently (a task killed with self-healing off is not replaced). Without `replicas`:
    every slot whose newest task was not removed."""
    newest: dict[int, Task] = {}
    for task in tasks:
        if task.service == service and task.version >= newest.get(task.slot, task).version:
            newest[task.slot] = task
    kept = {slot: task for slot, task in newest.items() if task.desired != "remove"}
    if replicas is None:
        return sorted(kept)
    wanted = [slot for slot, task in kept.items() if task.desired in WANTED]
    stopped = sorted(
        (slot for slot in kept if slot not in wanted), key=lambda slot: -kept[slot].version
    )
    return sorted(wanted + stopped[: max(0, replicas - len(wanted))])


def select(
    tasks: list[Task],
    target: str,
    replicas: str | float | None,
    local_node: str | None,
    service_replicas: int | None = None,
) -> list[Task]:
    """The running tasks `target` picks, lowest slots first. Raises TargetError when the target
    has no running task, or when one picked runs on another node than `local_node` (its
    namespace cannot be reached from this engine; None: any node will do). `service_replicas`,
    the service's replica count, tells its slots apart from those a scale down removed."""
    service, nth = service_of(target)
    mine = sorted((t for t in tasks if t.service == service and t.running), key=lambda t: t.slot)
    if nth is not None:
        # timeline-N is the service's N-th slot: slot N, unless a scale down left other numbers.
        known = slots(tasks, service, service_replicas)
        slot = known[nth - 1] if nth <= len(known) else nth
        mine = [t for t in mine if t.slot == slot]
        if not mine:
            raise TargetError(f"{target}: no running task in slot {slot} of service {service}")
    elif not mine:
        raise TargetError(f"{target}: the service has no running task")
    picked = mine[: share(len(mine), replicas)]
    remote = [t for t in picked if local_node is not None and t.node_id != local_node]
    if remote:
        where = ", ".join(f"{t.label} on node {t.node_id[:12]}" for t in remote)
        raise TargetError(
            f"{target}: {where} runs on another node; only tasks of the node this engine talks "
            "to can be shaped (run the engine against that node's daemon)"
        )
    return picked


def sides(spec: Any) -> list[str]:
    """The targets a fault touches (a partition's peer too)."""
    return [spec.target] + ([spec.peer] if isinstance(spec, Partition) else [])
