"""Faults only an orchestrator has: a service scaled to n replicas for the duration (then its
previous count), a rolling restart (`service update --force`: every task replaced one after
another, under load), a node drained (its tasks moved elsewhere) and made active again."""

import time
from typing import Any

from chaos.backends.base import AppliedFault, NotApplied
from chaos.backends.swarm.engine import SwarmError
from chaos.backends.swarm.protocol import SwarmDriver
from chaos.backends.swarm.records import NodeActive, ReplicasBack, UpdateDone
from chaos.fault_specs import Drain, RollingRestart, Scale
from chaos.journal import Entry
from chaos.observation import FaultWindow
from chaos.undo import UndoRecord


def _record(backend: SwarmDriver, spec: Any, fid: str, undo: UndoRecord) -> None:
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


def apply_scale(backend: SwarmDriver, spec: Scale, fid: str) -> AppliedFault:
    began = time.monotonic()
    before = backend.engine.replicas(spec.target)
    undo = ReplicasBack(service=spec.target, replicas=before)
    _record(backend, spec, fid, undo)
    try:
        backend.engine.scale(spec.target, spec.to, remember=before)
    except SwarmError as exc:
        backend.journal.mark_reverted(fid, str(exc))
        return NotApplied(spec, fid, "swarm", backend.journal, str(exc))
    backend.journal.update(fid, state="applied")
    fault = Scaled(spec, fid, backend, before, undo)
    fault.apply_s = time.monotonic() - began
    return fault


class Scaled(AppliedFault):
    def __init__(
        self, spec: Scale, fid: str, backend: SwarmDriver, before: int, undo: ReplicasBack
    ) -> None:
        super().__init__(spec, fid, "swarm", backend.journal)
        self.backend, self.before, self.undo = backend, before, undo

    def _verify(self) -> tuple[bool, str]:
        assert isinstance(self.spec, Scale)
        running = len(self.backend.engine.running(self.target))
        wanted = self.backend.engine.replicas(self.target)
        return running == self.spec.to and wanted == self.spec.to, (
            f"{self.target}: {running} task(s) running, {wanted} wanted "
            f"(asked {self.spec.to}, {self.before} before)"
        )

    def _revert(self) -> str:
        return self.undo.undo(self.backend)


def apply_rolling_restart(backend: SwarmDriver, spec: RollingRestart, fid: str) -> AppliedFault:
    began = time.monotonic()
    before = {t.id for t in backend.engine.running(spec.target)}
    undo = UpdateDone(service=spec.target)
    _record(backend, spec, fid, undo)
    try:
        backend.engine.force_update(spec.target)
    except SwarmError as exc:
        backend.journal.mark_reverted(fid, str(exc))
        return NotApplied(spec, fid, "swarm", backend.journal, str(exc))
    backend.journal.update(fid, state="applied")
    fault = RollingRestarted(spec, fid, backend, before, undo)
    fault.apply_s = time.monotonic() - began
    return fault


class RollingRestarted(AppliedFault):
    """Took effect once a task that ran before was replaced by a new one."""

    def __init__(
        self,
        spec: RollingRestart,
        fid: str,
        backend: SwarmDriver,
        before: set[str],
        undo: UpdateDone,
    ) -> None:
        super().__init__(spec, fid, "swarm", backend.journal)
        self.backend, self.before, self.undo = backend, before, undo
        self.replaced = 0
        self.finished_after_s: float | None = None

    def _verify(self) -> tuple[bool, str]:
        running = {t.id for t in self.backend.engine.running(self.target)}
        new = running - self.before
        self.replaced = max(self.replaced, len(new))
        state = self.backend.engine.update_state(self.target) or "none"
        return bool(new), (
            f"{self.target}: {len(new)} of {len(running)} running task(s) new since the forced "
            f"update (update {state})"
        )

    def _revert(self) -> str:
        said = self.undo.undo(self.backend)
        if self.finished_after_s is None:
            self.finished_after_s = time.time() - self.started_at
        self.verify()  # every task replaced by now: the count the report shows
        return said

    def window(self, run_started_at: float) -> FaultWindow:
        window = super().window(run_started_at)
        window.figures = {
            "rolling_restart": {
                "service": self.target,
                "tasks_replaced": self.replaced,
                "seconds": None
                if self.finished_after_s is None
                else round(self.finished_after_s, 3),
            }
        }
        return window


def apply_drain(backend: SwarmDriver, spec: Drain, fid: str) -> AppliedFault:
    began = time.monotonic()
    tasks = backend.picked(spec.target, "one", local_only=False)
    node = tasks[0].node_id
    undo = NodeActive(node=node, availability=backend.engine.availability(node))
    _record(backend, spec, fid, undo)
    try:
        backend.engine.set_availability(node, "drain")
    except Exception as exc:  # the API's refusal, said in the verdict
        backend.journal.mark_reverted(fid, str(exc))
        return NotApplied(spec, fid, "swarm", backend.journal, f"drain refused: {exc}")
    backend.journal.update(fid, state="applied")
    fault = Drained(spec, fid, backend, node, undo)
    fault.apply_s = time.monotonic() - began
    return fault


class Drained(AppliedFault):
    def __init__(
        self, spec: Drain, fid: str, backend: SwarmDriver, node: str, undo: NodeActive
    ) -> None:
        super().__init__(spec, fid, "swarm", backend.journal)
        self.backend, self.node, self.undo = backend, node, undo

    def _verify(self) -> tuple[bool, str]:
        availability = self.backend.engine.availability(self.node)
        left = [t for t in self.backend.engine.tasks() if t.running and t.node_id == self.node]
        return availability == "drain", (
            f"node {self.node[:12]} is {availability}; {len(left)} task(s) of the stack still "
            "run there"
        )

    def _revert(self) -> str:
        return self.undo.undo(self.backend)
