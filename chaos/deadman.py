"""The dead-man timer: a detached process that reverts a fault its runner did not revert by the
end of its duration (runner killed, hung), so that every fault reverts on its own
even where the fault itself cannot (a killed, stopped or paused container or process).

One per journal, started when a fault is applied; it holds a lock on `<journal>.deadman` while it
lives and exits once nothing in the journal is left to revert. A fault is overdue `GRACE_S` after
its end; one whose revert has begun is left to its runner while that runner lives.

    python -m chaos.deadman JOURNAL
"""

import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from chaos.backends import backend_from_journal
from chaos.backends.local import processes as proc
from chaos.journal import Entry, Journal

REPO = Path(__file__).resolve().parents[1]
REVERT_ALLOWANCE_S = 120.0  # a runner's revert may wait that long for a service to be ready


def grace_s() -> float:
    return float(os.environ.get("FAILWHALE_CHAOS_GRACE_S", "10"))


def lock_path(journal: Journal) -> Path:
    return journal.path.with_suffix(".deadman")


def watch(journal: Journal) -> None:
    """Start the timer for this journal unless one is already running (or it is switched off
    with FAILWHALE_CHAOS_DEADMAN=off)."""
    if os.environ.get("FAILWHALE_CHAOS_DEADMAN", "on") == "off":
        return
    with open(lock_path(journal), "a") as probe:
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # one is running
        fcntl.flock(probe, fcntl.LOCK_UN)
    command = [sys.executable, "-m", "chaos.deadman", str(journal.path)]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    log = journal.path.with_suffix(".deadman.log")
    # A session of its own (setsid -f): neither the runner's end nor a Ctrl-C in its terminal
    # reaches it, and it is nobody's child to wait for.
    launcher = ["setsid", "-f", *command] if shutil.which("setsid") else command
    with open(log, "ab") as out:
        subprocess.run(
            launcher, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            cwd=REPO, env=env, check=False, start_new_session=True,
        )  # fmt: skip


def overdue(entry: Entry, now: float) -> bool:
    end = entry.expires_at + grace_s()
    if now < end:
        return False
    if entry.state == "reverting" and proc.alive(entry.owner_pid):
        return now >= end + REVERT_ALLOWANCE_S
    return True


def run(journal: Journal, out: IO[str]) -> None:
    backend = None
    while pending := journal.pending():
        now = time.time()
        for entry in (e for e in pending if overdue(e, now)):
            backend = backend or backend_from_journal(journal)
            try:
                note = backend.undo(entry.undo)
            except Exception as exc:  # left for `failwhale chaos sweep`, and said so
                note = f"undo failed: {exc!r}"
            journal.mark_reverted(entry.id, f"reverted by the dead-man timer: {note}")
            print(f"{time.strftime('%H:%M:%S')} {entry.id}: {note}", file=out, flush=True)
        soonest = min((e.expires_at + grace_s() for e in pending), default=now)
        time.sleep(min(1.0, max(0.1, soonest - time.time())))


def main(argv: list[str]) -> int:
    journal = Journal.open(Path(argv[1]))
    with open(lock_path(journal), "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return 0  # another timer watches this journal
        with contextlib.suppress(KeyboardInterrupt):
            run(journal, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
