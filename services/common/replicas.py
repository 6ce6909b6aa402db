"""Client-side load balancing over the replicas of one service, with outlier ejection.

Calls go to the replicas in turn. A replica whose breaker is open is ejected: it gets no calls
until its breaker lets a probe through. A call that fails on one replica is repeated at once on
the next (for calls that may be repeated), so one dead replica costs the user nothing.

The replicas are fixed (a list of URLs) or discovered (services.gateway.discovery replaces
them as the orchestrator starts and stops tasks). A discovered set may be empty for a while:
a call then fails at once as `DependencyUnavailable`, which the caller's fallback answers.
"""

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from services.common.downstream import Downstream
from services.common.errors import DependencyUnavailable
from services.common.retry import is_idempotent


class ReplicaSet:
    def __init__(
        self, name: str, replicas: Sequence[Downstream], *, resilient: bool | None = None
    ) -> None:
        """A fixed set needs at least one replica; a discovered one (`empty`) may have none."""
        if not replicas and resilient is None:
            raise ValueError(f"{name} needs at least one replica")
        self.name = name
        self.replicas = list(replicas)
        self._resilient = replicas[0].resilient if resilient is None else resilient
        self._turn = itertools.count()
        # Told (without waiting for it) when no replica answered a call: discovery looks again.
        self.on_exhausted: Callable[[], None] | None = None

    @classmethod
    def empty(cls, name: str, resilient: bool) -> "ReplicaSet":
        """A set whose replicas are discovered later (`replace`)."""
        return cls(name, [], resilient=resilient)

    @property
    def resilient(self) -> bool:
        return self._resilient

    def replace(self, replicas: Sequence[Downstream]) -> None:
        """The replicas from now on. Calls under way finish on the replica they started on."""
        self.replicas = list(replicas)

    def in_turn(self) -> list[Downstream]:
        """Every replica once, starting with the next in turn, ejected ones last."""
        replicas = self.replicas  # one snapshot: discovery may replace the list meanwhile
        if not replicas:
            return []
        start = next(self._turn) % len(replicas)
        ordered = replicas[start:] + replicas[:start]
        return [r for r in ordered if r.available] + [r for r in ordered if not r.available]

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        repeatable = self.resilient and is_idempotent(method, kwargs.get("headers"))
        # Without the resilience layer: plain round robin, a dead replica's turn fails.
        candidates = self.in_turn() if repeatable else self.in_turn()[:1]
        if not candidates:
            self._exhausted()
            raise DependencyUnavailable(
                self.name, f"no replica of {self.name} is known", reason="unreachable"
            )
        failure: DependencyUnavailable | None = None
        for replica in candidates:
            try:
                return await replica.request(method, path, **kwargs)
            except DependencyUnavailable as exc:
                failure = exc
        assert failure is not None
        self._exhausted()
        raise DependencyUnavailable(
            self.name,
            f"no replica of {self.name} answered ({failure.detail})",
            retry_after_s=int(failure.headers.get("Retry-After", "1")),
            reason=failure.reason,
        ) from failure

    def _exhausted(self) -> None:
        if self.on_exhausted is not None:
            self.on_exhausted()
