"""Prometheus metrics: one registry per app, request counts and latencies by route template."""

import time
from typing import Any

from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.breaker import STATE_VALUES

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServiceMetrics:
    """The metrics of one service, in a registry of its own (apps in one process stay apart)."""

    def __init__(self, service: str) -> None:
        self.service = service
        self._series: dict[tuple[int, tuple[str, ...]], Any] = {}
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "failwhale_http_requests",
            "HTTP requests served",
            ["service", "method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "failwhale_http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["service", "method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.downstream_calls = Counter(
            "failwhale_downstream_calls",
            "Calls to other services, by outcome",
            ["service", "dependency", "outcome"],
            registry=self.registry,
        )

        self.breaker_state = Gauge(
            "failwhale_breaker_state",
            "Circuit breaker state: 0 closed, 1 half-open, 2 open",
            ["service", "dependency"],
            registry=self.registry,
        )
        self.breaker_transitions = Counter(
            "failwhale_breaker_transitions",
            "Circuit breaker state changes",
            ["service", "dependency", "to"],
            registry=self.registry,
        )
        self.retries = Counter(
            "failwhale_retries",
            "Calls repeated after a failure",
            ["service", "dependency"],
            registry=self.registry,
        )
        self.rejections = Counter(
            "failwhale_rejections",
            "Calls refused without being made (breaker open, bulkhead full)",
            ["service", "dependency", "reason"],
            registry=self.registry,
        )
        self.fallbacks = Counter(
            "failwhale_fallbacks",
            "Answers served by a fallback",
            ["service", "dependency", "fallback"],
            registry=self.registry,
        )
        self.outbox_depth = Gauge(
            "failwhale_outbox_depth",
            "Writes accepted into an outbox and not yet delivered",
            ["service", "outbox"],
            registry=self.registry,
        )
        self.outbox_drainer_restarts = Counter(
            "failwhale_outbox_drainer_restarts_total",
            "Outbox drainers restarted after a failure (logged with its traceback)",
            ["service", "outbox"],
            registry=self.registry,
        )

        self.injected_faults = Counter(
            "failwhale_injected_faults",
            "Requests a chaos experiment delayed, failed or held through the fault hook",
            ["service", "kind"],
            registry=self.registry,
        )

    def series(self, metric: Any, *labels: str) -> Any:
        """`metric.labels(self.service, *labels)`, looked up once: `labels()` takes a lock and
        builds its key on every call, and these are counted on every request."""
        key = (id(metric), labels)
        child = self._series.get(key)
        if child is None:
            child = self._series[key] = metric.labels(self.service, *labels)
        return child

    def breaker_changed(self, dependency: str, _old: str, new: str) -> None:
        self.breaker_state.labels(self.service, dependency).set(STATE_VALUES[new])
        self.breaker_transitions.labels(self.service, dependency, new).inc()

    def render(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


class RequestMetrics:
    """ASGI middleware counting requests by route template (not by raw path: ids stay out)."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            count, latency = self._children(scope["method"], route, status)
            count.inc()
            latency.observe(time.perf_counter() - started)

    def _children(self, method: str, route: str, status: int) -> tuple[Any, Any]:
        """The labelled series of one (method, route, status), looked up once: `labels()`
        takes a lock and builds the key on every call, on every request."""
        key = (method, route, status)
        children = self._series.get(key)
        if children is None:
            service = self.metrics.service
            children = (
                self.metrics.requests.labels(service, method, route, str(status)),
                self.metrics.latency.labels(service, method, route),
            )
            self._series[key] = children
        return children


def install_metrics(app: FastAPI, metrics: ServiceMetrics) -> None:
    app.add_middleware(RequestMetrics, metrics=metrics)

    @app.get("/metrics", include_in_schema=False)
    async def metrics_endpoint() -> Response:
        return metrics.render()
