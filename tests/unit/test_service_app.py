"""What every service gets from `build_service_app`: health, readiness, and metrics by route
template."""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from prometheus_client.parser import text_string_to_metric_families
from redis.exceptions import ConnectionError

from services.common.service_app import build_service_app
from services.common.settings import ServiceSettings
from tests.unit.problems import assert_problem
from tests.unit.stack_keys import SECRETS

pytestmark = pytest.mark.anyio


class FakeRedis:
    def __init__(self, outcome: str) -> None:
        self.outcome = outcome

    async def ping(self) -> bool:
        if self.outcome == "down":
            raise ConnectionError("refused")
        if self.outcome == "hung":
            await asyncio.sleep(30)
        return True


@pytest.fixture
def app() -> FastAPI:
    router = APIRouter()

    @router.get("/things/{thing_id}")
    async def thing(thing_id: int) -> dict[str, int]:
        return {"id": thing_id}

    app = build_service_app(
        ServiceSettings(service_name="things", **SECRETS),
        title="t",
        description="t",
        routers=[router],
    )
    app.state.redis = FakeRedis("up")
    return app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        yield client


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


async def test_healthz_answers_with_the_service_name(client: httpx.AsyncClient) -> None:
    answer = await client.get("/healthz")
    assert answer.json() == {"status": "ok", "service": "things"}


async def test_readyz_is_ready_when_redis_answers(client: httpx.AsyncClient) -> None:
    assert (await client.get("/readyz")).json() == {"status": "ready", "service": "things"}


@pytest.mark.parametrize("outcome", ["down", "hung"])
async def test_readyz_is_a_503_problem_when_redis_is_down_or_hangs(
    app: FastAPI, client: httpx.AsyncClient, outcome: str
) -> None:
    app.state.redis = FakeRedis(outcome)
    answer = await asyncio.wait_for(client.get("/readyz"), timeout=5)
    assert_problem(answer, 503, "dependency-unavailable")
    assert answer.headers["retry-after"] == "1"


async def test_healthz_does_not_depend_on_redis(app: FastAPI, client: httpx.AsyncClient) -> None:
    app.state.redis = FakeRedis("down")
    assert (await client.get("/healthz")).status_code == 200


async def test_metrics_count_requests_by_route_template_not_raw_path(
    client: httpx.AsyncClient,
) -> None:
    await client.get("/things/123")
    await client.get("/things/456")
    await client.get("/things/notanumber")
    await client.get("/no/such/path/789")
    answer = await client.get("/metrics")
    assert answer.headers["content-type"].startswith("text/plain")
    counts = samples(answer.text, "failwhale_http_requests_total")
    template = (("method", "GET"), ("route", "/things/{thing_id}"), ("service", "things"))
    assert counts[(*template[:2], ("service", "things"), ("status", "200"))] == 2
    assert counts[(*template[:2], ("service", "things"), ("status", "422"))] == 1
    unmatched = (
        ("method", "GET"),
        ("route", "unmatched"),
        ("service", "things"),
        ("status", "404"),
    )
    assert counts[unmatched] == 1
    labels = {
        value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
        for value in sample.labels.values()
    }
    assert not [v for v in labels if any(raw in v for raw in ("123", "456", "789", "notanumber"))]


async def test_metrics_have_a_latency_histogram_per_route(client: httpx.AsyncClient) -> None:
    await client.get("/things/1")
    text = (await client.get("/metrics")).text
    counts = samples(text, "failwhale_http_request_duration_seconds_count")
    assert counts[(("method", "GET"), ("route", "/things/{thing_id}"), ("service", "things"))] == 1


async def test_each_app_has_its_own_metrics_registry() -> None:
    first = build_service_app(
        ServiceSettings(service_name="one", **SECRETS), title="a", description="a", routers=[]
    )
    second = build_service_app(
        ServiceSettings(service_name="two", **SECRETS), title="b", description="b", routers=[]
    )
    assert first.state.metrics.registry is not second.state.metrics.registry


async def test_internal_services_publish_no_docs(client: httpx.AsyncClient) -> None:
    assert (await client.get("/docs")).status_code == 404
    assert (await client.get("/openapi.json")).status_code == 404
