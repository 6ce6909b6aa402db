"""What the agent shows of the stack beside its faults: the resilience the gateway runs with, the
orchestrator's self-healing, the load the stack's Locust master runs. Each is looked up at most
every `MAX_AGE_S` (the console asks every second) and is null when it cannot be read."""

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

from chaos.backends.base import Backend, FaultError

MAX_AGE_S = 2.0
TIMEOUT_S = 1.5
T = TypeVar("T")


class StackView:
    def __init__(self, backend: Backend, http: httpx.Client | None = None) -> None:
        self.backend = backend
        self.http = http or httpx.Client(timeout=TIMEOUT_S)
        self._cache: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()
        self._orchestrator: bool | None = None

    def close(self) -> None:
        self.http.close()

    def orchestrator(self) -> bool:
        """Whether the engine replaces dead tasks at all (asked once: it does not change)."""
        if self._orchestrator is None:
            try:
                self._orchestrator = self.backend.self_healing() is not None
            except FaultError:
                self._orchestrator = False
        return self._orchestrator

    def resilience(self) -> str | None:
        """The gateway's FAILWHALE_RESILIENCE, from its public /v1/status."""
        return self._cached("resilience", self._read_resilience)

    def self_healing(self) -> str | None:
        return self._cached("self_healing", self.backend.self_healing)

    def load(self, fresh: bool = False) -> dict[str, Any] | None:
        """The Locust master's state and user count; null without a master. `fresh`: read now
        (a run deciding whether it joins a load must not see the state of two seconds ago)."""
        return self._cached("load", self._read_load, fresh)

    def locust_url(self) -> str | None:
        return self._cached("locust_url", self.backend.stack_locust_url)

    def _read_resilience(self) -> str | None:
        mode = self.http.get(f"{self.backend.gateway_url}/v1/status").json().get("resilience")
        return mode if mode in ("on", "off") else None

    def _read_load(self) -> dict[str, Any] | None:
        url = self.locust_url()
        if url is None:
            return None
        stats = self.http.get(f"{url.rstrip('/')}/stats/requests").json()
        return {
            "state": str(stats.get("state", "unknown")),
            "users": int(stats.get("user_count", 0)),
        }

    def _cached(self, key: str, read: Callable[[], T | None], fresh: bool = False) -> T | None:
        now = time.monotonic()
        with self._lock:
            if not fresh and key in self._cache and now - self._cache[key][0] < MAX_AGE_S:
                value: T | None = self._cache[key][1]
                return value
        try:
            value = read()
        except Exception:  # an engine or a master that does not answer: shown as unknown
            value = None
        with self._lock:
            self._cache[key] = (time.monotonic(), value)
        return value
