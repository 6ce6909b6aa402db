"""Overload against real processes: a gateway with every place taken (trends held by SIGSTOP, so
the requests it admitted cannot finish) sheds a burst with 503 /overloaded and Retry-After,
counts each one in /v1/status and its metrics, and still answers health, readiness, metrics and
status; a request whose budget is spent is refused with 504 by the gateway and by a service."""

import asyncio
import signal
from collections.abc import Iterator

import httpx
import pytest

from services.common.deadline import HEADER
from stack.local import LocalStack
from tests.integration.own_stack import own_stack

pytestmark = pytest.mark.integration

LIMIT, BURST = 2, 12


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    env = {
        "FAILWHALE_GATEWAY_ADMISSION_MAX_LIMIT": str(LIMIT),
        "FAILWHALE_GATEWAY_ADMISSION_MIN_LIMIT": str(LIMIT),
        "FAILWHALE_GATEWAY_ADMISSION_QUEUE": "0",
    }
    with own_stack(tmp_path_factory.mktemp("overload"), env=env) as local:
        yield local


async def burst(url: str) -> tuple[list[httpx.Response], list[httpx.Response]]:
    """BURST trend reads at once while trends is held, and the never-shed routes meanwhile."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        reads = [asyncio.create_task(client.get("/v1/trends")) for _ in range(BURST)]
        # The reads the gateway shed come back while the admitted ones still wait on trends.
        await asyncio.wait(reads, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        never_shed = [
            await client.get(path) for path in ("/healthz", "/readyz", "/metrics", "/v1/status")
        ]
        return list(await asyncio.gather(*reads)), never_shed


def test_a_burst_past_the_limit_is_shed_fast_and_counted(stack: LocalStack) -> None:
    stack.send_signal("trends", signal.SIGSTOP)
    try:
        answers, never_shed = asyncio.run(burst(stack.layout.gateway_url))
    finally:
        stack.send_signal("trends", signal.SIGCONT)
    shed = [a for a in answers if a.status_code == 503 and a.json()["type"].endswith("/overloaded")]
    assert len(shed) == BURST - LIMIT
    assert all(a.headers["retry-after"] == "1" for a in shed)
    assert all(a.headers["content-type"] == "application/problem+json" for a in shed)
    assert [a.status_code for a in never_shed] == [200, 200, 200, 200]
    status = httpx.get(stack.layout.gateway_url + "/v1/status", timeout=10).json()
    assert status["admission"]["shed"]["queue-full"] == BURST - LIMIT
    assert status["admission"]["limit"] == LIMIT
    metrics = httpx.get(stack.layout.gateway_url + "/metrics", timeout=10).text
    line = 'failwhale_shed_requests_total{reason="queue-full",service="gateway"}'
    assert f"{line} {float(BURST - LIMIT)}" in metrics


def test_a_spent_budget_is_refused_with_504_by_the_gateway_and_by_a_service(
    stack: LocalStack,
) -> None:
    spent = {HEADER: "0"}
    public = httpx.get(stack.layout.gateway_url + "/v1/trends", headers=spent, timeout=10)
    internal = httpx.get(stack.layout.url("trends") + "/internal/trends", headers=spent, timeout=10)
    for answer in (public, internal):
        assert answer.status_code == 504
        assert answer.json()["type"].endswith("/deadline-exceeded")
    # with budget left, the same read is served
    assert (
        httpx.get(
            stack.layout.gateway_url + "/v1/trends", headers={HEADER: "5000"}, timeout=10
        ).status_code
        == 200
    )
