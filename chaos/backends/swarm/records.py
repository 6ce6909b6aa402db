"""The swarm backend's undo records: a task slot to have a healthy task again, a service's replica
count to put back, a forced update to see finished, a node to make active again. The network,
busy-loop and hook records of the docker backend serve the tasks' containers as they are."""

from typing import Literal, Protocol

from chaos.undo import UndoRecord


class SwarmHands(Protocol):
    """What undoing a swarm fault needs from the backend."""

    def slot_back(self, service: str, slot: int, dead_task: str) -> str: ...

    def replicas_back(self, service: str, replicas: int) -> str: ...

    def update_done(self, service: str) -> str: ...

    def node_back(self, node_id: str, availability: str) -> str: ...


class SlotHealthy(UndoRecord):
    """A task killed, stopped, paused or restarted: its slot is to run a healthy task again (the
    orchestrator's replacement, or one forced when self-healing is off)."""

    kind: Literal["swarm-slot"] = "swarm-slot"
    service: str
    slot: int
    task: str
    container: str

    def undo(self, hands: SwarmHands) -> str:
        return hands.slot_back(self.service, self.slot, self.task)


class ReplicasBack(UndoRecord):
    """A service scaled: it is to run its previous count again."""

    kind: Literal["swarm-replicas"] = "swarm-replicas"
    service: str
    replicas: int

    def undo(self, hands: SwarmHands) -> str:
        return hands.replicas_back(self.service, self.replicas)


class UpdateDone(UndoRecord):
    """A rolling restart: nothing to put back, but the update is to be over and every replica
    running before the fault counts as ended."""

    kind: Literal["swarm-update"] = "swarm-update"
    service: str

    def undo(self, hands: SwarmHands) -> str:
        return hands.update_done(self.service)


class NodeActive(UndoRecord):
    """A node drained: it is to have its previous availability again."""

    kind: Literal["swarm-node"] = "swarm-node"
    node: str
    availability: str = "active"

    def undo(self, hands: SwarmHands) -> str:
        return hands.node_back(self.node, self.availability)


SwarmRecord = SlotHealthy | ReplicasBack | UpdateDone | NodeActive
