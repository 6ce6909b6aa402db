"""The gateway's public fast lane for `GET /v1/timeline`: a read with a good token and a plain
query is answered in front of the app (past its routing and dependency solving) with the route's
own answer, degraded ones included; bad tokens and bad queries go to the app and get today's
401/422 problems; admission control, the request budget, the fault hook and the request metrics
apply to lane reads as to the app's."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from starlette.types import ASGIApp, Receive, Scope, Send

from services.common.auth import (
    ServiceCredential,
    TokenKeys,
    User,
    issue_service_token,
    issue_user_token,
)
from services.common.deadline import HEADER as DEADLINE_HEADER
from services.common.downstream import Downstream
from services.common.fault_hook import FaultPlan
from services.common.replicas import ReplicaSet
from services.gateway.app import create_app
from services.gateway.backends import Backends
from services.gateway.policies import POLICIES
from services.gateway.settings import GatewaySettings
from services.gateway.wiring import run_gateway
from tests.unit.problems import assert_problem
from tests.unit.stack_keys import KEYS
from tests.unit.test_gateway import POST, FakeServices, MemoryRedis

pytestmark = pytest.mark.anyio
ALICE = User(1, "alice")
PAGE = {"items": [POST], "next": None}


class SeenByApp:
    """Records the paths that reached the app's own middleware stack (not the lane)."""

    def __init__(self, app: ASGIApp, seen: list[str]) -> None:
        self.app, self.seen = app, seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.seen.append(scope["path"])
        await self.app(scope, receive, send)


class Gateway:
    """A gateway app in process over faked services, and what reached its app stack."""

    def __init__(self, app: FastAPI, client: httpx.AsyncClient, seen: list[str]) -> None:
        self.app, self.client, self.seen = app, client, seen

    def counted(self, metric: str, **wanted: str) -> float:
        text = self.app.state.metrics.render().body.decode()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == metric and wanted.items() <= sample.labels.items():
                    return float(sample.value)
        return 0.0

    def reads(self, status: str) -> float:
        return self.counted(
            "failwhale_http_requests_total", route="/v1/timeline", method="GET", status=status
        )


@asynccontextmanager
async def running(settings: GatewaySettings, services: FakeServices) -> AsyncIterator[Gateway]:
    app: Any = create_app(settings)
    seen: list[str] = []
    app.add_middleware(SeenByApp, seen=seen)
    metrics = app.state.metrics
    app.state.redis = MemoryRedis()
    async with httpx.AsyncClient(transport=httpx.MockTransport(services)) as http:
        credential = ServiceCredential(app.state.token_keys, "gateway")

        def edge(name: str, policy: str = "") -> Downstream:
            policy = policy or name
            return Downstream(name, f"http://{name}", http, credential, metrics, POLICIES[policy])

        replicas = [edge("timeline-1", "timeline"), edge("timeline-2", "timeline")]
        backends = Backends(
            users=edge("users"),
            posts=edge("posts"),
            timeline=ReplicaSet("timeline", replicas),
            dms=edge("dms"),
            trends=edge("trends"),
            logins=Downstream(
                "users-logins", "http://users", http, credential, metrics, POLICIES["logins"]
            ),
        )
        async with run_gateway(settings, backends, app.state.redis, metrics) as gateway:
            app.state.backends, app.state.gateway = backends, gateway
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
                yield Gateway(app, client, seen)


def gateway_settings(**changes: Any) -> GatewaySettings:
    secrets: dict[str, Any] = {
        "token_secret": KEYS.user_secret,
        "internal_secret": KEYS.internal_secret,
    }
    return GatewaySettings(**secrets | {"fault_hook": True} | changes)


@pytest.fixture
def services() -> FakeServices:
    services = FakeServices()
    for replica in ("timeline-1", "timeline-2"):
        services.answers[replica] = lambda r: httpx.Response(200, json=PAGE)
    return services


@pytest.fixture
async def gw(services: FakeServices) -> AsyncIterator[Gateway]:
    async with running(gateway_settings(), services) as gateway:
        yield gateway


def token(keys: TokenKeys = KEYS, user: User = ALICE, ttl_s: int = 3600) -> dict[str, str]:
    return {"Authorization": "Bearer " + issue_user_token(keys, user, ttl_s)}


# A one-byte Content-Length the lane does not take: the same read, answered by the app's route.
BY_THE_APP = {"Content-Length": "1"}


async def test_a_read_takes_the_lane_and_asks_the_replica_as_the_route_does(
    gw: Gateway, services: FakeServices
) -> None:
    sent = token()
    lane = await gw.client.get("/v1/timeline?limit=5&before=77", headers=sent)
    assert gw.seen == []
    route = await gw.client.get("/v1/timeline?limit=5&before=77", headers=sent | BY_THE_APP)
    assert gw.seen == ["/v1/timeline"]
    assert lane.status_code == route.status_code == 200
    assert lane.content == route.content and lane.json() == PAGE
    assert lane.headers == route.headers
    by_lane, by_route = services.calls
    assert [c.url.host for c in services.calls] == ["timeline-1", "timeline-2"]
    for call in (by_lane, by_route):
        assert dict(call.url.params) == {"limit": "5", "before": "77"}
        assert call.headers["authorization"] == sent["Authorization"]


async def test_degraded_answers_keep_their_flags_and_are_counted(
    gw: Gateway, services: FakeServices
) -> None:
    flagged = "users=cached-heavy-follows"
    degraded = PAGE | {"degraded": [flagged]}
    for replica in ("timeline-1", "timeline-2"):
        services.answers[replica] = lambda r: httpx.Response(
            200, json=degraded, headers={"X-Degraded": flagged}
        )
    lane = await gw.client.get("/v1/timeline", headers=token())
    route = await gw.client.get("/v1/timeline", headers=token() | BY_THE_APP)
    assert gw.seen == ["/v1/timeline"]
    for answer in (lane, route):
        assert answer.headers["x-degraded"] == flagged and answer.json() == degraded
    assert lane.content == route.content
    fallbacks = gw.counted("failwhale_fallbacks_total", dependency="users")
    assert fallbacks == 2


async def test_replicas_down_is_fan_out_on_read_flagged_on_the_lane_too(
    gw: Gateway, services: FakeServices
) -> None:
    services.answers["timeline-1"] = services.answers["timeline-2"] = lambda r: httpx.Response(503)
    services.answers["users"] = lambda r: httpx.Response(200, json={"items": [2]})
    services.answers["posts"] = lambda r: httpx.Response(200, json=PAGE)
    answer = await gw.client.get("/v1/timeline?limit=5", headers=token())
    assert gw.seen == []
    assert answer.headers["x-degraded"] == "timeline=fanout-on-read"
    assert answer.json() == PAGE | {"degraded": ["timeline=fanout-on-read"]}


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=101", "limit=abc", "limit=", "before=0", "before=-1", "limit=%31"],
)
async def test_a_bad_query_is_the_routes_422_and_reaches_no_service(
    gw: Gateway, services: FakeServices, query: str
) -> None:
    answer = await gw.client.get(f"/v1/timeline?{query}", headers=token())
    if query == "limit=%31":  # plain once decoded: the app's route serves it
        assert answer.status_code == 200
        assert dict(services.calls[0].url.params) == {"limit": "1"}
    else:
        assert assert_problem(answer, 422, "unprocessable")["errors"]
        assert services.calls == []
    assert gw.seen == ["/v1/timeline"]


@pytest.mark.parametrize(
    "case", ["missing", "garbage", "basic", "expired", "forged", "service-token", "twice"]
)
async def test_a_bad_token_is_the_routes_401_and_reaches_no_service(
    gw: Gateway, services: FakeServices, case: str
) -> None:
    forged = TokenKeys("f" * 64, "f" * 64)
    sent: list[tuple[str, str]] = {
        "missing": [],
        "garbage": [("Authorization", "Bearer not-a-token")],
        "basic": [("Authorization", "Basic YWxpY2U6cGFzc3dvcmQ=")],
        "expired": list(token(ttl_s=-1).items()),
        "forged": list(token(forged).items()),
        "service-token": [("Authorization", "Bearer " + issue_service_token(KEYS, "gateway"))],
        # Two tokens: the app reads the first (a forged one), the lane leaves the choice to it.
        "twice": list(token(forged).items()) + list(token().items()),
    }[case]
    answer = await gw.client.get("/v1/timeline", headers=sent)
    assert_problem(answer, 401, "unauthorized")
    assert services.calls == [] and gw.seen == ["/v1/timeline"]


async def test_lane_reads_are_counted_under_the_routes_series(gw: Gateway) -> None:
    for _ in range(3):
        assert (await gw.client.get("/v1/timeline", headers=token())).status_code == 200
    await gw.client.get("/v1/timeline?limit=0", headers=token())  # the app's, counted too
    assert gw.seen == ["/v1/timeline"]
    assert gw.reads("200") == 3 and gw.reads("422") == 1


async def test_a_fault_set_on_the_hook_hits_lane_reads(gw: Gateway, services: FakeServices) -> None:
    gw.app.state.faults.set(FaultPlan(error_rate=1.0, duration_s=30))
    answer = await gw.client.get("/v1/timeline", headers=token())
    assert_problem(answer, 503, "injected")
    assert gw.seen == [] and services.calls == []
    assert gw.app.state.faults.injected == 1
    gw.app.state.faults.set(FaultPlan(latency_ms=1, duration_s=30))
    assert (await gw.client.get("/v1/timeline", headers=token())).status_code == 200
    assert gw.app.state.faults.injected == 2 and gw.seen == []


async def test_a_lane_read_holds_a_place_and_carries_the_request_budget(
    gw: Gateway, services: FakeServices
) -> None:
    admission = gw.app.state.admission
    held: list[int] = []

    def replica(request: httpx.Request) -> httpx.Response:
        held.append(admission.in_flight)
        return httpx.Response(200, json=PAGE)

    services.answers["timeline-1"] = replica
    assert (await gw.client.get("/v1/timeline", headers=token())).status_code == 200
    assert gw.seen == [] and held == [1] and admission.in_flight == 0
    budget_ms = float(services.calls[0].headers[DEADLINE_HEADER])
    assert 0 < budget_ms <= gw.app.state.admission.policy.budget_s * 1000


async def test_a_lane_read_is_shed_when_admission_is_full(services: FakeServices) -> None:
    settings = gateway_settings(admission_max_limit=1, admission_min_limit=1, admission_queue=0)
    async with running(settings, services) as gw:
        admission = gw.app.state.admission
        assert await admission.enter() is None  # the one place, taken
        answer = await gw.client.get("/v1/timeline", headers=token())
        assert_problem(answer, 503, "overloaded")
        assert answer.headers["retry-after"] == "1"
        assert gw.seen == [] and services.calls == []
        assert admission.shed["queue-full"] == 1
        assert gw.counted("failwhale_shed_requests_total", reason="queue-full") == 1
        admission.leave()
        assert (await gw.client.get("/v1/timeline", headers=token())).status_code == 200


async def test_a_spent_budget_sent_by_the_client_is_a_504_on_the_lane(
    gw: Gateway, services: FakeServices
) -> None:
    answer = await gw.client.get("/v1/timeline", headers=token() | {DEADLINE_HEADER: "0"})
    assert answer.status_code == 504
    assert gw.seen == [] and services.calls == []


async def test_without_resilience_the_lane_serves_with_no_admission_and_no_budget(
    services: FakeServices,
) -> None:
    async with running(gateway_settings(resilience="off"), services) as gw:
        assert gw.app.state.admission is None
        assert (await gw.client.get("/v1/timeline", headers=token())).json() == PAGE
        assert gw.seen == [] and DEADLINE_HEADER not in services.calls[0].headers


async def test_the_openapi_of_the_timeline_read_is_the_routes(gw: Gateway) -> None:
    schema = (await gw.client.get("/openapi.json")).json()
    read = schema["paths"]["/v1/timeline"]["get"]
    assert read["operationId"] == "home_timeline"
    assert [p["name"] for p in read["parameters"]] == ["limit", "before"]
    assert list(schema["paths"]["/v1/timeline"]) == ["get"]
