"""The local backend's sweep (`failwhale chaos sweep --backend local`): undo whatever a killed
runner left behind. First what the journal says is still applied, then what a look at the
stack finds: our busy loops (tagged in their command line), stopped or missing service
processes, fault-hook plans. Never run it while a run is going: it undoes that run's faults too."""

import os
import signal
from pathlib import Path

from chaos.backends.base import undo_pending
from chaos.backends.local import processes as proc
from chaos.backends.local.protocol import LocalDriver


def sweep(backend: LocalDriver) -> list[str]:
    done = undo_pending(backend.journal, backend.undo)
    for loop in _busy_loops():
        os.kill(loop, signal.SIGKILL)
        done.append(f"busy loop {loop} killed")
    if not backend.stack.state_file.exists():
        return done  # the stack is down: nothing should be running
    for name in [s.name for s in backend.layout.services] + ["redis"]:
        pid = backend.pid(name)
        if pid is not None and proc.state(pid) == "T":
            os.killpg(pid, signal.SIGCONT)
            done.append(f"{name}: SIGCONT to process group {pid}")
        elif pid is None or not proc.alive(pid):
            done.append(backend.start(name))
        if name != "redis" and backend.hook_active(name):
            backend.hooks.clear(name)
            done.append(f"{name}: fault hook plan cleared")
    return done


def _busy_loops() -> list[int]:
    """Our busy loops still running (tagged in their command line), of this user only."""
    found = []
    for path in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if path.stat().st_uid != os.getuid():
                continue
            if proc.CPU_TAG.encode() + b":" in path.read_bytes():
                found.append(int(path.parent.name))
        except OSError:
            continue
    return [pid for pid in found if pid != os.getpid()]
