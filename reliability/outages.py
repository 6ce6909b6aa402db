"""Outages of a local stack's processes for the reliability checks: a SIGKILL, proof that the
process is gone, a while down, and a restart that waits until the process serves again."""

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from stack.local import LocalStack

GONE_TIMEOUT_S = 10.0
READY_TIMEOUT_S = 60.0


class OutageError(RuntimeError):
    """A kill that did not kill, or a restart that never served again."""


@dataclass(frozen=True)
class Outage:
    service: str
    pid: int
    down_s: float  # from the kill until the restarted process served again


def kill_and_restart(stack: LocalStack, service: str, hold_s: float) -> Outage:
    """SIGKILL `service` (its whole process group), keep it down for `hold_s`, start it again."""
    pid = stack.pid(service)
    killed = time.monotonic()
    stack.send_signal(service, signal.SIGKILL)
    _wait_gone(pid)
    time.sleep(hold_s)
    stack.restart(service)
    return Outage(service, pid, time.monotonic() - killed)


def repeated_outages(
    stack: LocalStack,
    service: str,
    count: int,
    every_s: float,
    hold_s: float,
    progress: Callable[[str], None] = lambda _: None,
) -> list[Outage]:
    """`count` outages, one every `every_s` (the first after `every_s`)."""
    outages: list[Outage] = []
    next_at = time.monotonic() + every_s
    for number in range(1, count + 1):
        time.sleep(max(0.0, next_at - time.monotonic()))
        progress(f"kill {number} of {count}: {service}")
        outages.append(kill_and_restart(stack, service, hold_s))
        next_at += every_s
    return outages


def wait_gateway_ready(stack: LocalStack, timeout_s: float = READY_TIMEOUT_S) -> bool:
    """True once the gateway's dependencies all answer (/readyz), False after the deadline."""
    deadline = time.monotonic() + timeout_s
    url = stack.layout.gateway_url + "/readyz"
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


def _wait_gone(pid: int) -> None:
    deadline = time.monotonic() + GONE_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise OutageError(f"process {pid} still there {GONE_TIMEOUT_S:.0f} s after SIGKILL")
