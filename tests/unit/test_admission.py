"""The gateway's admission control: requests past the limit wait a moment in a bounded room and
are otherwise shed at once with 503 /overloaded and Retry-After, counted by reason; health,
readiness, metrics and status are never shed; the limit falls when the event loop has a
standing backlog, grows back when it keeps up, within its bounds."""

import asyncio
from typing import Any

import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from services.common import deadline
from services.common.bulkhead import Bulkhead
from services.common.metrics import ServiceMetrics
from services.gateway.admission import Admission, AdmissionControl, AdmissionPolicy

pytestmark = pytest.mark.anyio


NEVER_HELD = ("/healthz", "/readyz", "/metrics", "/v1/status", "/v1/sessions", "/v1/users")


class Held:
    """An app whose requests wait until released; it records the budget each one ran with."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.entered = 0
        self.budgets: list[float | None] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.entered += 1
        self.budgets.append(deadline.remaining_s())
        if scope["path"] not in NEVER_HELD:
            await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def gate(**policy: Any) -> tuple[Admission, ServiceMetrics]:
    metrics = ServiceMetrics("gateway")
    defaults: dict[str, Any] = {"max_limit": 2, "min_limit": 1, "max_waiting": 1}
    return Admission(AdmissionPolicy(**(defaults | policy)), metrics), metrics


def shed_count(metrics: ServiceMetrics, reason: str) -> float:
    value = metrics.registry.get_sample_value(
        "failwhale_shed_requests_total", {"service": "gateway", "reason": reason}
    )
    return value or 0.0


async def test_past_the_limit_and_the_waiting_room_a_request_is_shed_with_503_overloaded() -> None:
    admission, metrics = gate(queue_timeout_s=5.0)
    app = Held()
    transport = httpx.ASGITransport(app=AdmissionControl(app, admission))
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        held = [asyncio.create_task(client.get("/v1/timeline")) for _ in range(3)]
        while admission.in_flight + admission.waiting < 3:  # noqa: ASYNC110 (polls the gate)
            await asyncio.sleep(0.001)
        shed = await client.get("/v1/timeline")
        app.release.set()
        answers = await asyncio.gather(*held)
    assert [a.status_code for a in answers] == [200, 200, 200]  # two worked on, one waited
    assert shed.status_code == 503
    assert shed.headers["content-type"] == "application/problem+json"
    assert shed.headers["retry-after"] == "1"
    assert shed.json()["type"].endswith("/overloaded")
    assert app.entered == 3
    assert admission.shed == {"queue-full": 1, "queue-timeout": 0, "client-gone": 0}
    assert shed_count(metrics, "queue-full") == 1


async def test_a_request_that_waits_past_the_queue_timeout_is_shed() -> None:
    admission, metrics = gate(max_limit=1, queue_timeout_s=0.01)
    app = Held()
    transport = httpx.ASGITransport(app=AdmissionControl(app, admission))
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        first = asyncio.create_task(client.get("/v1/timeline"))
        while admission.in_flight < 1:  # noqa: ASYNC110 (polls the gate)
            await asyncio.sleep(0.001)
        waited = await client.get("/v1/timeline")
        app.release.set()
        await first
    assert waited.status_code == 503
    assert admission.shed["queue-timeout"] == 1
    assert shed_count(metrics, "queue-timeout") == 1
    assert admission.in_flight == 0 and admission.waiting == 0


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"), ("GET", "/v1/status"),
     ("POST", "/v1/sessions"), ("POST", "/v1/users")],
)  # fmt: skip
async def test_health_status_and_password_checks_are_never_shed(method: str, path: str) -> None:
    admission, _ = gate(max_limit=1, max_waiting=0)
    app = Held()
    transport = httpx.ASGITransport(app=AdmissionControl(app, admission))
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        busy = asyncio.create_task(client.get("/v1/timeline"))
        while admission.in_flight < 1:  # noqa: ASYNC110 (polls the gate)
            await asyncio.sleep(0.001)
        answer = await client.request(method, path)
        refused = await client.get("/v1/trends")
        app.release.set()
        await busy
    assert answer.status_code == 200
    assert refused.status_code == 503


async def test_an_admitted_request_runs_with_the_gateways_budget() -> None:
    admission, _ = gate(budget_s=2.0)
    app = Held()
    app.release.set()
    transport = httpx.ASGITransport(app=AdmissionControl(app, admission))
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        await client.get("/v1/timeline")
    (left,) = app.budgets
    assert left is not None and 0 < left <= 2.0


def test_a_standing_backlog_lowers_the_limit_down_to_its_floor() -> None:
    admission, _ = gate(max_limit=100, min_limit=30, lag_target_s=0.01)
    limits = []
    for _ in range(10):
        admission.judge(smallest_lag_s=0.05)
        limits.append(admission.limit)
    assert limits[0] == 80
    assert limits == sorted(limits, reverse=True)
    assert limits[-1] == 30


def test_the_limit_grows_back_only_when_it_was_reached_and_the_loop_kept_up() -> None:
    admission, _ = gate(max_limit=100, min_limit=10, lag_target_s=0.01)
    for _ in range(20):
        admission.judge(smallest_lag_s=0.05)
    assert admission.limit == 10
    admission.judge(smallest_lag_s=0.001)  # the loop keeps up, but nobody needed more
    assert admission.limit == 10
    for _ in range(40):
        admission.places.in_flight = admission.limit  # every place taken
        asyncio.run(_shed_one(admission))
        admission.judge(smallest_lag_s=0.001)
    assert admission.limit == 100


async def _shed_one(admission: Admission) -> None:
    """An arrival while every place is taken (the waiting room is full: shed at once)."""
    admission.places.max_waiting = 0
    assert await admission.enter() == "queue-full"


async def test_a_lowered_limit_is_not_handed_on_to_a_waiting_caller() -> None:
    bulkhead = Bulkhead("gateway", limit=2, max_waiting=1, max_wait_s=5.0)
    await bulkhead.enter()
    await bulkhead.enter()
    waiting = asyncio.create_task(bulkhead.enter())
    while bulkhead.waiting < 1:  # noqa: ASYNC110 (polls the gate)
        await asyncio.sleep(0.001)
    bulkhead.limit = 1
    bulkhead.leave()  # two in flight over a limit of one: the place goes
    assert bulkhead.in_flight == 1 and not waiting.done()
    bulkhead.leave()  # now the waiting caller gets it
    await waiting
    assert bulkhead.in_flight == 1


def scope_of(method: str) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": "/v1/timeline", "headers": []}


async def test_a_bodiless_request_whose_client_has_gone_is_dropped_unworked() -> None:
    admission, metrics = gate()
    app = Held()
    app.release.set()
    sent: list[Message] = []

    async def gone() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await AdmissionControl(app, admission)(scope_of("GET"), gone, send)
    assert app.entered == 0 and sent == []
    assert admission.shed["client-gone"] == 1
    assert shed_count(metrics, "client-gone") == 1
    assert admission.in_flight == 0


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_an_admitted_request_reads_its_own_request_message(method: str) -> None:
    admission, _ = gate()
    read: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        read.append(await receive())
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    body: Message = {"type": "http.request", "body": b"{}", "more_body": False}
    messages = [body]

    async def receive() -> Message:
        return messages.pop() if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        pass

    await AdmissionControl(app, admission)(scope_of(method), receive, send)
    assert read == [body]


def test_a_standing_queue_gets_the_short_patience_and_a_burst_the_long_one() -> None:
    admission, _ = gate(queue_timeout_s=0.25, standing_queue_timeout_s=0.01)
    admission.judge(smallest_lag_s=0.0, fewest_waiting=3)  # waiters throughout the interval
    assert admission.standing and admission.places.max_wait_s == 0.01
    admission.judge(smallest_lag_s=0.0, fewest_waiting=0)  # the queue emptied at some point
    assert not admission.standing and admission.places.max_wait_s == 0.25
