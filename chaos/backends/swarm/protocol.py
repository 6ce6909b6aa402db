"""What the swarm backend's faults, undo and sweep need from its driver, as a protocol: they
take any object with these members and never import the driver, which imports them."""

from typing import Protocol

from docker.client import DockerClient

from chaos.backends.docker.protocol import DockerDriver
from chaos.backends.swarm.engine import SwarmStack
from chaos.backends.swarm.records import SwarmHands
from chaos.backends.swarm.tasks import Task


class SwarmDriver(DockerDriver, SwarmHands, Protocol):
    stack: str
    client: DockerClient
    engine: SwarmStack

    def picked(
        self, target: str, replicas: str | float | None, local_only: bool = True
    ) -> list[Task]: ...

    def pinned_to(
        self, target: str, task: Task, peer: str | None = None, peer_task: Task | None = None
    ) -> "SwarmDriver": ...

    def healthy_in_slot(self, service: str, slot: int) -> Task | None: ...
