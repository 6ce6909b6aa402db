"""The swarm backend's faults on tasks. Kill, stop, pause and restart act on the task's container;
the orchestrator (self-healing on) or the revert (off) gives the slot a new task, and the time
from the task's death to its replacement running healthy is measured. Latency, loss, partitions,
injected errors and CPU load are the docker backend's faults, aimed at the task's container. A
fault on several tasks is one fault with a part per task."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from docker.errors import APIError
from docker.models.containers import Container

from chaos.backends.base import AppliedFault, Fault, NotApplied
from chaos.backends.docker import faults as docker_faults
from chaos.backends.docker import network as docker_net
from chaos.backends.swarm.protocol import SwarmDriver
from chaos.backends.swarm.records import SlotHealthy
from chaos.backends.swarm.tasks import Task
from chaos.fault_specs import Cpu, HttpErrors, Kill, Latency, Loss, Partition, Pause, Restart, Stop
from chaos.journal import Entry, Journal
from chaos.observation import FaultWindow

STOP_TIMEOUT_S = 10
WANTED = {"kill": ("exited", "dead"), "stop": ("exited",), "pause": ("paused",)}
WATCH_S = 180.0
FORCED = "by a forced update"  # what the revert says when it had to force a new task
POLL_S = 0.5


def apply_on_tasks(
    backend: SwarmDriver, spec: Fault, fid: str, tasks: list[Task], peers: list[Task]
) -> AppliedFault:
    """The fault on each picked task (on each pair of tasks, for a partition)."""
    pairs: list[tuple[Task, Task | None]] = (
        [(t, p) for t in tasks for p in peers] if peers else [(t, None) for t in tasks]
    )
    if len(pairs) == 1:
        return _apply_one(backend, spec, fid, *pairs[0])
    # Side by side: a network fault's helper and probe take seconds per task.
    with ThreadPoolExecutor(max_workers=len(pairs), thread_name_prefix="task-fault") as pool:
        parts = list(
            pool.map(
                lambda n: _apply_one(backend, spec, f"{fid}-{n + 1}", *pairs[n]), range(len(pairs))
            )
        )
    return TaskFaults(spec, fid, backend.journal, parts)


def _apply_one(
    backend: SwarmDriver, spec: Fault, fid: str, task: Task, peer: Task | None
) -> AppliedFault:
    pinned = backend.pinned_to(spec.target, task, getattr(spec, "peer", None), peer)
    if isinstance(spec, Kill | Stop | Pause | Restart):
        return apply_state(pinned, spec, fid, task)
    if isinstance(spec, HttpErrors):
        return docker_faults.apply_errors(pinned, spec, fid)
    if isinstance(spec, Cpu):
        return docker_faults.apply_cpu(pinned, spec, fid)
    if isinstance(spec, Latency | Loss | Partition):
        return docker_net.apply_network(pinned, spec, fid)
    return NotApplied(spec, fid, "refused", backend.journal, f"{spec.fault} is not a task fault")


class TaskFaults(AppliedFault):
    """One fault on several tasks: it took effect when every part did."""

    def __init__(self, spec: Fault, fid: str, journal: Journal, parts: list[AppliedFault]) -> None:
        mechanisms = sorted({p.mechanism for p in parts})
        super().__init__(spec, fid, "+".join(mechanisms), journal)
        self.parts = parts
        self.apply_s = sum(p.apply_s for p in parts)

    def _verify(self) -> tuple[bool, str]:
        said = [part.verify() for part in self.parts]
        return all(ok for ok, _ in said), "; ".join(evidence for _, evidence in said)

    def _revert(self) -> str:
        threads = [threading.Thread(target=part.revert) for part in self.parts]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return "; ".join(part.revert_evidence for part in self.parts)

    def window(self, run_started_at: float) -> FaultWindow:
        window = super().window(run_started_at)
        window.figures = self.figures
        return window

    @property
    def figures(self) -> dict[str, Any]:
        replaced = [r for p in self.parts for r in getattr(p, "figures", {}).get("replaced", [])]
        return {"replaced": replaced} if replaced else {}


def apply_state(
    backend: SwarmDriver, spec: Kill | Stop | Pause | Restart, fid: str, task: Task
) -> AppliedFault:
    began = time.monotonic()
    container = backend.client.containers.get(task.container_id)
    undo = SlotHealthy(
        service=task.service, slot=task.slot, task=task.id, container=task.container_id
    )
    backend.journal.record(
        Entry(
            id=fid,
            kind=spec.fault,
            target=spec.target,
            mechanism="swarm",
            undo=undo,
            expires_at=time.time() + spec.duration_s,
        )
    )
    died_at = time.time()
    try:
        if isinstance(spec, Kill):
            container.kill()
        elif isinstance(spec, Pause):
            container.pause()
        else:
            container.stop(timeout=STOP_TIMEOUT_S)
            died_at = time.time()
    except APIError as exc:
        backend.journal.mark_reverted(fid, f"refused: {exc}")
        return NotApplied(spec, fid, "swarm", backend.journal, f"docker refused: {exc}")
    backend.journal.update(fid, state="applied")
    fault = TaskState(spec, fid, backend, task, container, undo, died_at)
    if isinstance(spec, Restart) and backend.engine.self_healing_of(task.service) == "off":
        backend.engine.force_update(task.service)  # the restart's own start again
    fault.apply_s = time.monotonic() - began
    return fault


class TaskState(AppliedFault):
    """A task's container killed, stopped or paused (a restart: stopped, and its slot given a
    new task at once). A watcher notes when the slot runs a healthy task again."""

    def __init__(
        self,
        spec: Kill | Stop | Pause | Restart,
        fid: str,
        backend: SwarmDriver,
        task: Task,
        container: Container,
        undo: SlotHealthy,
        died_at: float,
    ) -> None:
        super().__init__(spec, fid, "swarm", backend.journal)
        self.backend, self.task, self.container, self.undo = backend, task, container, undo
        self.died_at = died_at
        self.replacement: Task | None = None
        self.replaced_after_s: float | None = None
        self.replaced_by = ""
        self._reverting = threading.Event()
        self._seen_reverting = False
        self._done = threading.Event()
        threading.Thread(target=self._watch, name=f"watch-{fid}", daemon=True).start()

    def window(self, run_started_at: float) -> FaultWindow:
        window = super().window(run_started_at)
        window.figures = self.figures
        return window

    @property
    def figures(self) -> dict[str, Any]:
        if self.replaced_after_s is None or self.replacement is None:
            return {}
        return {
            "replaced": [
                {
                    "task": self.task.label,
                    "seconds": round(self.replaced_after_s, 3),
                    "by": self.replaced_by,
                    "kind": self.kind,
                }
            ]
        }

    def _watch(self) -> None:
        """Polls the slot until a new task runs there (swarm reports a task with a healthcheck
        as running once it is healthy), or the watch runs out."""
        while not self._done.is_set() and time.time() - self.died_at < WATCH_S:
            try:
                found = self.backend.healthy_in_slot(self.task.service, self.task.slot)
            except Exception:  # a daemon hiccup: look again
                found = None
            if found is not None and found.id != self.task.id:
                self.replacement = found
                self.replaced_after_s = time.time() - self.died_at
                # Until the revert says it forced a new task, the orchestrator made it.
                self.replaced_by = "orchestrator"
                self._seen_reverting = self._reverting.is_set()
                return
            self._done.wait(POLL_S)

    def _verify(self) -> tuple[bool, str]:
        if isinstance(self.spec, Restart):
            ok = self.replacement is not None
            return ok, self._replacement_evidence() if ok else (
                f"{self.task.label}: stopped, no new task running in its slot yet"
            )
        try:
            self.container.reload()
            status = self.container.attrs["State"]["Status"]
        except Exception:  # the orchestrator removed the dead task's container already
            status = "removed"
        ok = status in WANTED[self.kind] or (status == "removed" and self.kind != "pause")
        said = f"{self.task.label} ({self.task.id[:12]}) container is {status}"
        if self.replacement is not None:
            said += "; " + self._replacement_evidence()
        return ok, said

    def _replacement_evidence(self) -> str:
        assert self.replacement is not None and self.replaced_after_s is not None
        return (
            f"task {self.replacement.id[:12]} runs healthy in slot {self.task.slot} "
            f"{self.replaced_after_s:.1f} s after, replaced by the {self.replaced_by}"
        )

    def _revert(self) -> str:
        self._reverting.set()
        said = self.undo.undo(self.backend)
        forced = FORCED in said
        if self.replacement is None and self.kind != "pause":
            # The watcher may be between two looks: one last one, now the slot has converged.
            found = self.backend.healthy_in_slot(self.task.service, self.task.slot)
            if found is not None and found.id != self.task.id:
                self.replacement, self._seen_reverting = found, True
                self.replaced_after_s = time.time() - self.died_at
                self.replaced_by = "orchestrator"
        if self.replacement is not None and forced and self._seen_reverting:
            self.replaced_by = "revert"
        self._done.set()
        return said
