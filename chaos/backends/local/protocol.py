"""What the local backend's faults and sweep need from a driver, as a protocol: they take any
object with these members and never import the driver, which imports them."""

from typing import Protocol

from chaos.backends.hook import HookPart, HookPlans
from chaos.backends.local.records import ServiceStarter
from chaos.journal import Entry, Journal
from chaos.undo import UndoRecord
from stack.layout import LocalLayout
from stack.local import LocalStack


class LocalDriver(ServiceStarter, Protocol):
    journal: Journal
    stack: LocalStack
    layout: LocalLayout
    hooks: HookPlans

    def record(self, entry: Entry) -> None: ...

    def pid(self, service: str) -> int | None: ...

    def remember_env(self, service: str, pid: int) -> None: ...

    def start_process(self, service: str) -> str: ...

    def stop(self, service: str) -> None: ...

    def kill(self, service: str) -> None: ...

    def credential(self, service: str, caller: str = ...) -> dict[str, str]: ...

    def hook_part(self, service: str, fid: str, part: HookPart) -> None: ...

    def hook_active(self, service: str) -> bool: ...

    def undo(self, record: UndoRecord) -> str: ...
