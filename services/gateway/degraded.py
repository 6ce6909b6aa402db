"""Degraded answers (contract): whenever part of an answer comes from a fallback, the response
carries `X-Degraded: <reasons>` and the body a list `degraded` with the same reasons."""

import time
from typing import Any

import orjson
from starlette.responses import Response

from services.common.metrics import ServiceMetrics

HEADER = "X-Degraded"
RECENT_S = 10.0


def degraded_response(body: dict[str, Any], reasons: list[str], status: int = 200) -> Response:
    body = body | {"degraded": reasons}
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type="application/json",
        headers={HEADER: ",".join(reasons)},
    )


class Degradations:
    """Which dependencies were answered for by a fallback lately (for /v1/status and metrics)."""

    def __init__(self, metrics: ServiceMetrics) -> None:
        self.metrics = metrics
        self._last: dict[str, float] = {}

    def served(self, dependency: str, fallback: str) -> str:
        """Record a fallback answer; returns its reason as written in `X-Degraded`."""
        self._last[dependency] = time.monotonic()
        self.metrics.series(self.metrics.fallbacks, dependency, fallback).inc()
        return f"{dependency}={fallback}"

    def recent(self, dependency: str) -> bool:
        return time.monotonic() - self._last.get(dependency, -RECENT_S) < RECENT_S
