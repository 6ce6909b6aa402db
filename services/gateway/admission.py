"""Admission control at the gateway's door: with the resilience layer on, at most `limit`
requests are worked on at once; past that, up to `max_waiting` wait (first come, first served)
for a place, and any other request is shed at once with
`503 /overloaded` and `Retry-After`, before routing and without any downstream call. An
overloaded gateway thus answers what it cannot serve soon in milliseconds, instead of queueing
every request behind all the others until each one pays the whole queue.

How long a request may wait follows CoDel's rule: a burst (the process descheduled a moment,
many arrivals at once) is absorbed, waiting up to `queue_timeout_s`; but when requests have
been waiting throughout the last interval, the queue is standing, not a burst, and a request
waits at most `standing_queue_timeout_s` before it is shed: a standing queue only adds its
delay to every request, and never drains on its own while the crowd lasts.

The limit adapts to what the gateway itself can do (AIMD on its event loop's lag, as CoDel
judges a queue by its minimum delay): every `interval_s`, if even the smallest lag of the
interval's ticks was above `lag_target_s`, the loop has a standing backlog and the limit falls
by a fifth (never below `min_limit`); if the limit was reached and the loop kept up, it grows by
a tenth (never above `max_limit`). Requests waiting on a slow dependency (a log-in's password
hash, a dependency under a latency fault) cost the loop nothing: they never lower the limit,
and the edges' own bulkheads bound them. A lone late tick (the process descheduled a moment) is
not a backlog and changes nothing.

A request without a body (GET, HEAD) whose client has already gone when its turn comes (it gave
up while the gateway was behind) is dropped, not worked on: counted as shed (`client-gone`), with
no answer, since nobody is there to read it. Work for callers who left is what keeps an
overloaded server down after the crowd has gone.

Each admitted request's budget (services.common.deadline) starts when it arrives, so the time
it waited for a place counts against it. Health, readiness, metrics and status are never shed:
an orchestrator or an operator must still see an overloaded gateway as alive. Sign-ups and
log-ins take no place either: the users edge's own bulkhead and waiting room admit them.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from prometheus_client import Counter, Gauge
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common import deadline
from services.common.bulkhead import Bulkhead, BulkheadFull
from services.common.errors import Overloaded, problem_response
from services.common.metrics import ServiceMetrics

BODILESS = frozenset({"GET", "HEAD"})
# Sign-ups and log-ins wait on a password hash in users, behind an edge of their own with its
# own bounded waiting room (services.gateway.policies): that is their admission control. Holding
# a place here while users hashes would shed cheap reads behind them.
OWN_ADMISSION = frozenset({("POST", "/v1/users"), ("POST", "/v1/sessions")})
NEVER_SHED = frozenset({"/healthz", "/readyz", "/metrics", "/v1/status"})


@dataclass(frozen=True)
class AdmissionPolicy:
    max_limit: int = 256
    min_limit: int = 32
    max_waiting: int = 256
    # How long a request may wait for a place: a burst is absorbed, a standing queue is not.
    queue_timeout_s: float = 0.25
    standing_queue_timeout_s: float = 0.01
    lag_target_s: float = 0.01
    interval_s: float = 0.1
    tick_s: float = 0.005
    retry_after_s: int = 1
    # Each admitted request's budget from its arrival (None: no deadline).
    budget_s: float | None = 6.0


class Admission:
    """The gate's state: the limit now, requests in flight and waiting, and the requests shed
    (by reason: `queue-full` when the waiting room was full, `queue-timeout` when no place came
    in time)."""

    def __init__(self, policy: AdmissionPolicy, metrics: ServiceMetrics) -> None:
        self.policy = policy
        self.places = Bulkhead(
            "gateway", policy.max_limit, policy.max_waiting, policy.queue_timeout_s
        )
        self.shed: dict[str, int] = {"queue-full": 0, "queue-timeout": 0, "client-gone": 0}
        self.refusals = {
            r: Refusal(r, policy.retry_after_s) for r in ("queue-full", "queue-timeout")
        }
        self.lag_s = 0.0  # the smallest lag of the last interval
        self.standing = False  # whether requests waited for a place throughout it
        self._limit = float(policy.max_limit)
        self._reached = False
        self._counter = Counter(
            "failwhale_shed_requests",
            "Requests the gateway's admission control refused with 503 (overloaded)",
            ["service", "reason"],
            registry=metrics.registry,
        )
        self._series = {
            reason: self._counter.labels(metrics.service, reason) for reason in self.shed
        }
        self._gauge = Gauge(
            "failwhale_admission_limit",
            "Requests the gateway works on at once before new ones wait or are shed",
            ["service"],
            registry=metrics.registry,
        ).labels(metrics.service)
        self._gauge.set(policy.max_limit)

    @property
    def limit(self) -> int:
        return self.places.limit

    @property
    def in_flight(self) -> int:
        return self.places.in_flight

    @property
    def waiting(self) -> int:
        return self.places.waiting

    def count(self, reason: str) -> None:
        self.shed[reason] += 1
        self._series[reason].inc()

    async def enter(self) -> str | None:
        """Takes a place, waiting for one if the policy allows; returns None once admitted, or
        the reason the request is shed (it then holds no place)."""
        if self.places.in_flight >= self.places.limit:
            self._reached = True
        try:
            await self.places.enter()
        except BulkheadFull as exc:
            reason = "queue-timeout" if isinstance(exc.__cause__, TimeoutError) else "queue-full"
            self.count(reason)
            return reason
        return None

    def leave(self) -> None:
        self.places.leave()

    def judge(self, smallest_lag_s: float, fewest_waiting: int = 0) -> None:
        """One interval's verdict on the limit and the queue's patience (see the module
        docstring)."""
        policy = self.policy
        self.lag_s = smallest_lag_s
        self.standing = fewest_waiting > 0
        self.places.max_wait_s = (
            policy.standing_queue_timeout_s if self.standing else policy.queue_timeout_s
        )
        if smallest_lag_s > policy.lag_target_s:
            self._limit = max(policy.min_limit, self._limit * 0.8)
        elif self._reached:
            self._limit = min(policy.max_limit, self._limit * 1.1 + 1)
        self._reached = False
        self.places.limit = int(self._limit)
        self._gauge.set(self.places.limit)

    @asynccontextmanager
    async def watching(self) -> AsyncIterator[None]:
        """Measures the event loop's lag while the app runs, and adapts the limit to it."""
        task = asyncio.create_task(self._watch(), name="admission-lag")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        tick, interval = self.policy.tick_s, self.policy.interval_s
        smallest, fewest = float("inf"), self.places.waiting
        interval_ends = loop.time() + interval
        while True:
            due = loop.time() + tick
            await asyncio.sleep(tick)
            now = loop.time()
            smallest, fewest = min(smallest, now - due), min(fewest, self.places.waiting)
            if now >= interval_ends:
                self.judge(smallest, fewest)
                smallest, fewest = float("inf"), self.places.waiting
                interval_ends = now + interval


class AdmissionControl:
    """ASGI middleware in front of the whole gateway app (see the module docstring)."""

    def __init__(self, app: ASGIApp, admission: Admission) -> None:
        self.app = app
        self.admission = admission

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] in NEVER_SHED
            or (scope["method"], scope["path"]) in OWN_ADMISSION
        ):
            await self.app(scope, receive, send)
            return
        if scope["method"] in BODILESS:
            first = await receive()  # ready at once: a bodiless request is read whole
            if first["type"] == "http.disconnect":
                self.admission.count("client-gone")
                return
            receive = _replayed(first, receive)
        budget_s = self.admission.policy.budget_s
        token = deadline.start(budget_s) if budget_s is not None else None
        try:
            shed = await self.admission.enter()
            if shed is not None:
                await self.admission.refusals[shed](send)
                return
            try:
                await self.app(scope, receive, send)
            finally:
                self.admission.leave()
        finally:
            if token is not None:
                deadline.end(token)


def _replayed(first: Message, receive: Receive) -> Receive:
    """`receive`, giving the message already read first."""
    pending = [first]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


class Refusal:
    """The 503 answer for one reason, built once: a shed answer must cost the gateway as little
    as possible, or shedding a crowd takes the CPU the admitted requests need."""

    def __init__(self, reason: str, retry_s: int) -> None:
        error = Overloaded(
            f"the gateway is at capacity ({reason}); retry after {retry_s} s", retry_s
        )
        response = problem_response(
            error.status, error.title, error.detail, error.slug, error.headers
        )
        self.start: Message = {
            "type": "http.response.start",
            "status": error.status,
            "headers": response.raw_headers,
        }
        self.body: Message = {"type": "http.response.body", "body": response.body}

    async def __call__(self, send: Send) -> None:
        await send(self.start)
        await send(self.body)
