"""Deadlines between services: the header's budget is parsed (a broken one ignored), a request
whose budget is spent is refused with 504 before any work, and calls downstream carry what is
left of it, capped timeouts included, or are not made at all once it is spent."""

import asyncio
from collections.abc import Callable

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from services.common import deadline
from services.common.auth import ServiceCredential, TokenKeys
from services.common.breaker import BreakerConfig
from services.common.downstream import Downstream
from services.common.errors import DependencyUnavailable
from services.common.metrics import ServiceMetrics
from services.common.policy import EdgePolicy
from services.common.retry import RetryPolicy

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("250", 250.0),
        (b"1.5", 1.5),
        ("0", 0.0),
        ("-40", -40.0),
        ("9999999", deadline.MAX_BUDGET_MS),
        ("soon", None),
        ("", None),
        ("nan", None),
        ("inf", None),
        (None, None),
    ],
)
def test_a_budget_is_a_finite_number_of_ms_and_anything_else_is_ignored(
    raw: str | bytes | None, expected: float | None
) -> None:
    assert deadline.parse_budget_ms(raw) == expected


class Seen:
    """An app that records the budget left when it ran."""

    def __init__(self) -> None:
        self.calls: list[float | None] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls.append(deadline.remaining_s())
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def get(app: Callable[..., object], headers: dict[str, str]) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        return await client.get("/internal/timeline", headers=headers)


@pytest.mark.parametrize("budget", ["0", "-3"])
async def test_a_spent_budget_is_refused_with_504_before_the_app_works(budget: str) -> None:
    seen = Seen()
    answer = await get(deadline.Deadlines(seen), {deadline.HEADER: budget})
    assert answer.status_code == 504
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"].endswith("/deadline-exceeded")
    assert seen.calls == []


async def test_the_app_runs_with_the_budget_the_header_gives() -> None:
    seen = Seen()
    answer = await get(deadline.Deadlines(seen), {deadline.HEADER: "800"})
    assert answer.status_code == 200
    (left,) = seen.calls
    assert left is not None and 0 < left <= 0.8


@pytest.mark.parametrize("headers", [{}, {deadline.HEADER: "soon"}])
async def test_without_a_usable_header_the_app_runs_without_a_deadline(
    headers: dict[str, str],
) -> None:
    seen = Seen()
    answer = await get(deadline.Deadlines(seen), headers)
    assert answer.status_code == 200
    assert seen.calls == [None]


async def test_a_shorter_budget_never_lengthens_an_earlier_deadline() -> None:
    token = deadline.start(0.2)
    inner = deadline.start(5.0)
    left = deadline.remaining_s()
    assert left is not None and left <= 0.2
    deadline.end(inner)
    deadline.end(token)
    assert deadline.remaining_s() is None


def test_capped_brings_a_deadline_forward_only_when_the_request_has_a_sooner_one() -> None:
    async def check() -> None:
        loop = asyncio.get_running_loop()
        far = loop.time() + 10
        assert deadline.capped(far) == far
        token = deadline.start(0.5)
        assert deadline.capped(far) <= loop.time() + 0.5
        deadline.end(token)

    asyncio.run(check())


@pytest.fixture
def calls() -> list[httpx.Request]:
    return []


@pytest.fixture
def downstream(calls: list[httpx.Request], keys: TokenKeys) -> Downstream:
    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json={"ok": True})

    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    policy = EdgePolicy(retry=RetryPolicy(attempts=1), breaker=BreakerConfig(fail_max=100))
    credential = ServiceCredential(keys, "gateway")
    metrics = ServiceMetrics("gateway")
    return Downstream("timeline", "http://timeline:8000", client, credential, metrics, policy)


async def test_a_call_carries_what_is_left_of_the_budget(
    downstream: Downstream, calls: list[httpx.Request]
) -> None:
    token = deadline.start(1.5)
    try:
        await downstream.request("GET", "/internal/timeline")
    finally:
        deadline.end(token)
    sent = int(calls[0].headers[deadline.HEADER])
    assert 0 < sent <= 1500


async def test_a_call_without_a_deadline_carries_no_budget(
    downstream: Downstream, calls: list[httpx.Request]
) -> None:
    await downstream.request("GET", "/internal/timeline")
    assert deadline.HEADER not in calls[0].headers


async def test_no_call_is_made_once_the_budget_is_spent(
    downstream: Downstream, calls: list[httpx.Request]
) -> None:
    token = deadline.start(0.0)
    try:
        with pytest.raises(DependencyUnavailable) as refused:
            await downstream.request("GET", "/internal/timeline")
    finally:
        deadline.end(token)
    assert refused.value.reason == "timeout"
    assert calls == []
    # the breaker did not count the caller's spent budget against the dependency
    assert downstream.breaker.state == "closed"
    assert downstream.outcomes.count() == 0


async def test_a_call_carries_its_own_timeout_when_that_is_sooner_than_the_budget(
    downstream: Downstream, calls: list[httpx.Request]
) -> None:
    token = deadline.start(10.0)  # the edge's read timeout (1 s) ends the call first
    try:
        await downstream.request("GET", "/internal/timeline")
    finally:
        deadline.end(token)
    assert 0 < int(calls[0].headers[deadline.HEADER]) <= 1000
