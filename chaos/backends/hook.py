"""Faults through the services' fault hook (`/internal/faults`), merged per service.

The hook holds one plan per service and a PUT replaces it, so overlapping faults on one service
(a partition and injected errors, say) are merged here: the strongest latency and error rate,
the union of blackholed callers, and the longest remaining duration. Removing one fault pushes
what is left (or clears the hook). Every plan carries a duration, so the service reverts it by
itself even if the runner dies.
"""

import threading
import time
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from chaos.undo import UndoRecord
from services.common.fault_hook import MAX_DURATION_S


class HookError(RuntimeError):
    """The hook did not take the plan (off, unreachable, refused): the reason is the message."""


class HookTransport(Protocol):
    """Calls `/internal/faults` of one service with a service credential: (status, JSON body)."""

    def call(self, service: str, method: str, body: dict[str, Any] | None) -> tuple[int, Any]: ...


@dataclass(frozen=True)
class HookPart:
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    error_rate: float = 0.0
    blackhole_callers: tuple[str, ...] = ()
    duration_s: float = 1.0


class HookPlans:
    def __init__(self, transport: HookTransport) -> None:
        self.transport = transport
        self._parts: dict[str, dict[str, tuple[HookPart, float]]] = {}
        self._lock = threading.Lock()

    def add(self, service: str, fault_id: str, part: HookPart) -> None:
        with self._lock:
            expires = time.monotonic() + part.duration_s
            self._parts.setdefault(service, {})[fault_id] = (part, expires)
            try:
                self._push(service)
            except HookError:
                del self._parts[service][fault_id]
                raise

    def remove(self, service: str, fault_id: str) -> None:
        with self._lock:
            self._parts.get(service, {}).pop(fault_id, None)
            self._push(service)

    def clear(self, service: str) -> None:
        """Drop every fault on the service (a sweep: whoever applied them is gone)."""
        with self._lock:
            self._parts.pop(service, None)
            self._push(service)

    def active(self, service: str) -> dict[str, Any]:
        """What the service says is active now (the hook's `ActiveFaults`)."""
        status, body = self.transport.call(service, "GET", None)
        if status != 200 or not isinstance(body, dict):
            raise HookError(f"GET /internal/faults on {service} answered {status}: {body}")
        return body

    def _push(self, service: str) -> None:
        now = time.monotonic()
        live = {k: v for k, v in self._parts.get(service, {}).items() if v[1] > now}
        self._parts[service] = live
        if not live:
            status, body = self.transport.call(service, "DELETE", None)
            if status not in (204, 404):
                raise HookError(f"DELETE /internal/faults on {service} answered {status}: {body}")
            return
        plan = merge([part for part, _ in live.values()], max(e for _, e in live.values()) - now)
        status, body = self.transport.call(service, "PUT", plan)
        if status == 404:
            raise HookError(
                f"the fault hook is off on {service} (404): start it with FAILWHALE_FAULT_HOOK=on"
            )
        if status != 200:
            raise HookError(f"PUT /internal/faults on {service} answered {status}: {body}")


def merge(parts: list[HookPart], duration_s: float) -> dict[str, Any]:
    callers = sorted({c for p in parts for c in p.blackhole_callers})
    return {
        "latency_ms": max(p.latency_ms for p in parts),
        "jitter_ms": max(p.jitter_ms for p in parts),
        "error_rate": max(p.error_rate for p in parts),
        "blackhole_callers": callers,
        "duration_s": round(min(max(duration_s, 0.001), MAX_DURATION_S), 3),
    }


class ClearHookPlans(UndoRecord):
    """Undo of a hook fault, on any engine: clear the plan of each service (whoever applied the
    other parts of a merged plan is gone when this runs from a journal)."""

    kind: Literal["hook-plans"] = "hook-plans"
    services: tuple[str, ...]

    def undo(self, hooks: HookPlans) -> str:
        failed = []
        for service in self.services:
            try:
                hooks.clear(service)
            except HookError as exc:
                failed.append(f"{service}: {exc}")
        if failed:
            return "fault hook not cleared on " + "; ".join(failed)
        return f"fault hook cleared on {', '.join(self.services)}"
