"""How the swarm backend puts back what its faults took (the `SwarmHands` of its undo records):
a slot's healthy task, a service's replica count, a finished update, a node's availability."""

import time
from typing import TYPE_CHECKING

from docker.errors import NotFound

from chaos.backends.swarm.engine import SwarmError

if TYPE_CHECKING:
    from docker.client import DockerClient
    from docker.models.containers import Container

    from chaos.backends.swarm.engine import SwarmStack
    from chaos.backends.swarm.tasks import Task

HEAL_WAIT_S = 30.0  # how long a revert waits for the orchestrator before forcing a new task


class SlotKeeper:
    """Mixed into the swarm backend, whose engine, client and task lookups it uses."""

    engine: "SwarmStack"
    client: "DockerClient"

    if TYPE_CHECKING:  # the backend's own, named here for the type checker only

        def owned(self, container_id: str) -> "Container | None": ...

        def healthy_in_slot(self, service: str, slot: int) -> "Task | None": ...

    def slot_back(self, service: str, slot: int, dead_task: str) -> str:
        """The slot runs a healthy task again: the dead task's container unpaused if it is only
        paused, else the orchestrator's replacement awaited, or (self-healing off) forced."""
        for task in self.engine.tasks(service):
            if task.id == dead_task and task.running:
                container = self.owned(task.container_id)
                if container is not None and container.status == "paused":
                    container.unpause()
        began = time.monotonic()
        wait = HEAL_WAIT_S if self.engine.self_healing_of(service) == "on" else 2.0
        while time.monotonic() - began < wait:
            if (found := self.healthy_in_slot(service, slot)) is not None:
                return f"{service}.{slot} runs task {found.id[:12]} healthy"
            time.sleep(0.5)
        try:
            self.engine.force_update(service)
            waited = self.engine.wait_converged(service)
        except SwarmError as exc:
            return f"{service}.{slot}: no healthy task, and forcing one failed: {exc}"
        return f"{service}.{slot} given a new task by a forced update, converged in {waited:.1f} s"

    def replicas_back(self, service: str, replicas: int) -> str:
        try:
            self.engine.scale(service, replicas)
            waited = self.engine.wait_converged(service)
        except SwarmError as exc:
            return f"{service} not back to {replicas} replicas: {exc}"
        return f"{service} back to {replicas} replica(s), all running after {waited:.1f} s"

    def update_done(self, service: str) -> str:
        try:
            waited = self.engine.wait_converged(service)
        except SwarmError as exc:
            return f"{service}: the forced update did not finish: {exc}"
        state = self.engine.update_state(service) or "done"
        return f"{service}: update {state}, converged in {waited:.1f} s"

    def node_back(self, node_id: str, availability: str) -> str:
        try:
            self.engine.set_availability(node_id, availability)
        except NotFound:
            return f"node {node_id[:12]} is gone: nothing to undo"
        return f"node {node_id[:12]} {availability} again"
