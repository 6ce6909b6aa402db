"""What the docker backend's faults and sweep need from a driver, as a protocol: they take any
object with these members (DockerBackend, or an engine whose tasks are containers) and never
import the driver, which imports them."""

from typing import Any, Protocol

from docker.models.containers import Container

from chaos.backends.docker.records import ContainerHands
from chaos.backends.hook import HookPlans
from chaos.journal import Journal
from chaos.undo import UndoRecord


class DockerDriver(ContainerHands, Protocol):
    project: str
    journal: Journal
    hooks: HookPlans

    def containers(self) -> dict[str, Container]:
        """Service name -> container, of this project only."""
        ...

    def container(self, service: str) -> Container: ...

    def network(self, container: Container) -> str: ...

    def address(self, container: Container) -> str: ...

    def port(self, service: str) -> int: ...

    def has_netem(self) -> bool: ...

    def token(self, container: Container) -> str: ...

    def hook_port(self, container: Container) -> int: ...

    def call(self, service: str, method: str, body: dict[str, Any] | None) -> tuple[int, Any]: ...

    def undo(self, record: UndoRecord) -> str: ...
