"""Local processes as the chaos engine sees them: identity that survives pid reuse, state from
/proc, readiness, and busy loops for CPU faults."""

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

BUSY_LOOP = "import sys, time\nend = float(sys.argv[1])\nwhile time.time() < end:\n    pass\n"
CPU_TAG = "failwhale-chaos-cpu"


def starttime(pid: int) -> int | None:
    """The process's start time in clock ticks since boot: with the pid, who it is (a pid
    alone may be reused by another process once the first is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[19])


def state(pid: int) -> str | None:
    """The one-letter /proc state: R running, S sleeping, T stopped, Z zombie; None if gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0]
    except (OSError, IndexError):
        return None


def cpu_ticks(pid: int) -> int | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[11]) + int(fields[12])  # utime + stime


def alive(pid: int) -> bool:
    return state(pid) not in (None, "Z", "X")


def same_process(pid: int, start: int | None) -> bool:
    return alive(pid) and (start is None or starttime(pid) == start)


def wait_until(predicate: Callable[[], bool], timeout_s: float, step_s: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout_s
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(step_s)


def environment_of(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs}


def wait_ready(base_url: str, timeout_s: float) -> tuple[bool, float]:
    """Poll /readyz until it answers 2xx: (ready, seconds waited)."""
    began = time.monotonic()
    while True:
        try:
            if httpx.get(base_url + "/readyz", timeout=1).is_success:
                return True, time.monotonic() - began
        except httpx.HTTPError:
            pass
        if time.monotonic() - began >= timeout_s:
            return False, time.monotonic() - began
        time.sleep(0.1)


def spawn_busy_loops(
    workers: int, duration_s: float, fault_id: str
) -> list[subprocess.Popen[bytes]]:
    """Busy loops that end by themselves after the duration (even if the runner dies); the tag
    in their command line lets anyone see what they are."""
    end = time.time() + duration_s
    return [
        subprocess.Popen(
            [sys.executable, "-c", BUSY_LOOP, f"{end:.3f}", f"{CPU_TAG}:{fault_id}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for _ in range(workers)
    ]
