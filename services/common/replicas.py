"""Client-side load balancing over the replicas of one service, with outlier ejection.

Calls go to the replicas in turn. A replica whose breaker is open is ejected: it gets no calls
until its breaker lets a probe through. A call that fails on one replica is repeated at once on
the next (for calls that may be repeated), so one dead replica costs the user nothing.
"""

import itertools
from collections.abc import Sequence
from typing import Any

import httpx

from services.common.downstream import Downstream
from services.common.errors import DependencyUnavailable
from services.common.retry import is_idempotent


class ReplicaSet:
    def __init__(self, name: str, replicas: Sequence[Downstream]) -> None:
        if not replicas:
            raise ValueError(f"{name} needs at least one replica")
        self.name = name
        self.replicas = list(replicas)
        self._turn = itertools.count()

    @property
    def resilient(self) -> bool:
        return self.replicas[0].resilient

    def in_turn(self) -> list[Downstream]:
        """Every replica once, starting with the next in turn, ejected ones last."""
        start = next(self._turn) % len(self.replicas)
        ordered = self.replicas[start:] + self.replicas[:start]
        return [r for r in ordered if r.available] + [r for r in ordered if not r.available]

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        repeatable = self.resilient and is_idempotent(method, kwargs.get("headers"))
        # Without the resilience layer: plain round robin, a dead replica's turn fails.
        candidates = self.in_turn() if repeatable else self.in_turn()[:1]
        failure: DependencyUnavailable | None = None
        for replica in candidates:
            try:
                return await replica.request(method, path, **kwargs)
            except DependencyUnavailable as exc:
                failure = exc
        assert failure is not None
        raise DependencyUnavailable(
            self.name,
            f"no replica of {self.name} answered ({failure.detail})",
            retry_after_s=int(failure.headers.get("Retry-After", "1")),
            reason=failure.reason,
        ) from failure
