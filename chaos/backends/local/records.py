"""The local backend's undo records, each with its undo: a service process to start again, a
process group to resume, busy loops to end. Processes are named by pid and start time, so an
undo from the journal never signals a process that merely reuses a pid."""

import os
import signal
from typing import Literal, Protocol

from chaos.backends.local import processes as proc
from chaos.undo import UndoRecord


class ServiceStarter(Protocol):
    def start(self, service: str) -> str:
        """Start the service if it is not running and wait until it is ready; says what it did."""
        ...


class ServiceRunning(UndoRecord):
    """Killed, stopped or restarted: the service is to be running (and ready)."""

    kind: Literal["local-service"] = "local-service"
    service: str

    def undo(self, starter: ServiceStarter) -> str:
        return starter.start(self.service)


class GroupResumed(UndoRecord):
    """Paused (SIGSTOP to its process group): the group is to get SIGCONT."""

    kind: Literal["local-resume"] = "local-resume"
    pid: int
    starttime: int | None

    def undo(self) -> str:
        if not proc.same_process(self.pid, self.starttime):
            return f"pid {self.pid} is gone: nothing to resume"
        os.killpg(self.pid, signal.SIGCONT)
        return f"SIGCONT to process group {self.pid}"


class BusyLoopsEnded(UndoRecord):
    """Busy-loop processes, by (pid, start time)."""

    kind: Literal["local-busy-loops"] = "local-busy-loops"
    pids: tuple[tuple[int, int | None], ...] = ()

    def undo(self) -> str:
        killed = []
        for pid, start in self.pids:
            if proc.same_process(pid, start):
                os.kill(pid, signal.SIGKILL)
                killed.append(str(pid))
        return f"killed busy loops {', '.join(killed) or '(none left)'}"


LocalRecord = ServiceRunning | GroupResumed | BusyLoopsEnded
