"""The internal fast lane of timeline's `GET /internal/timeline`: a good request is answered in
front of the app (past its routing and middleware stack) with the route's own page; whatever the
lane cannot answer as the route would (bad query, missing or bad credentials, a body) goes to
the app and gets today's answer; the fault hook, request metrics, deadlines and the app's
exception handlers apply to lane requests too."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import orjson
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from redis.exceptions import ConnectionError as RedisConnectionError
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from services.common import auth
from services.common.auth import (
    SERVICE_HEADER,
    TokenKeys,
    User,
    issue_service_token,
    issue_user_token,
)
from services.common.fast_lane import LaneRouter
from services.common.fault_hook import FaultPlan
from services.common.service_app import ServiceApp, build_service_app
from services.common.settings import ServiceSettings
from services.timeline.home import HomePage
from services.timeline.routes import router
from tests.unit.problems import assert_problem
from tests.unit.stack_keys import KEYS, SECRETS

pytestmark = pytest.mark.anyio
READER = User(7, "reader")
CREATED = "2023-11-14T22:13:20."


def record(post_id: int) -> str:
    return orjson.dumps(
        {"id": post_id, "author_id": 3, "author": "ann", "text": f"post {post_id}",
         "created_ms": 1_700_000_000_000 + post_id}
    ).decode()  # fmt: skip


class FakeHomePages:
    """Posts 1..n of a home timeline, newest first; or a Redis outage."""

    def __init__(self, posts: int) -> None:
        self.posts = posts
        self.down = False
        self.asked: list[tuple[int, int, int | None]] = []

    async def page(self, reader: int, limit: int, before: int | None) -> HomePage:
        self.asked.append((reader, limit, before))
        if self.down:
            raise RedisConnectionError("refused")
        newest = min(self.posts, (before or self.posts + 1) - 1)
        return HomePage([record(i) for i in range(newest, max(0, newest - limit), -1)])


class SeenByApp:
    """Records the paths that reached the app's own middleware stack (not the lane)."""

    def __init__(self, app: ASGIApp, seen: list[str]) -> None:
        self.app, self.seen = app, seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.seen.append(scope["path"])
        await self.app(scope, receive, send)


@pytest.fixture
def seen() -> list[str]:
    return []


@pytest.fixture
def app(seen: list[str]) -> FastAPI:
    settings = ServiceSettings(service_name="timeline", fault_hook=True, **SECRETS)
    app = build_service_app(settings, title="t", description="t", routers=[router])
    app.state.timelines = FakeHomePages(posts=30)
    app.add_middleware(SeenByApp, seen=seen)
    return app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://timeline") as client:
        yield client


def headers(keys: TokenKeys = KEYS, caller: str = "gateway") -> dict[str, str]:
    return {
        "Authorization": f"Bearer {issue_user_token(keys, READER)}",
        SERVICE_HEADER: issue_service_token(keys, caller),
    }


def requests_counted(app: FastAPI, status: str) -> float:
    text = app.state.metrics.render().body.decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if (
                sample.name == "failwhale_http_requests_total"
                and labels["route"] == "/internal/timeline"
                and labels["status"] == status
            ):
                return float(sample.value)
    return 0.0


async def test_a_good_read_is_answered_by_the_lane_with_the_routes_page(
    client: httpx.AsyncClient, app: FastAPI, seen: list[str]
) -> None:
    answer = await client.get("/internal/timeline?limit=2&before=10", headers=headers())
    assert answer.status_code == 200
    assert answer.json() == {
        "items": [
            {"id": n, "author": "ann", "text": f"post {n}", "created_at": f"{CREATED}00{n}000Z"}
            for n in (9, 8)
        ],
        "next": 8,
    }
    assert seen == []  # the app's own stack never saw it
    assert app.state.timelines.asked == [(READER.id, 3, 10)]


async def test_the_lane_and_the_route_answer_the_same_bytes(
    client: httpx.AsyncClient, app: FastAPI, seen: list[str]
) -> None:
    lane = await client.get("/internal/timeline", headers=headers())
    # A zero-length body the lane does not take: the app's route answers the same read.
    route = await client.get("/internal/timeline", headers=headers() | {"Content-Length": "1"})
    assert seen == ["/internal/timeline"]
    assert lane.content == route.content and lane.headers["content-type"] == "application/json"
    assert len(lane.json()["items"]) == 20


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=101", "limit=abc", "before=0", "limit=-1", "limit=2&limit=3"]
)
async def test_a_bad_query_gets_the_routes_422_problem(
    client: httpx.AsyncClient, seen: list[str], query: str
) -> None:
    answer = await client.get(f"/internal/timeline?{query}", headers=headers())
    if query == "limit=2&limit=3":  # the app takes the last value, as FastAPI does
        assert answer.status_code == 200 and len(answer.json()["items"]) == 3
    else:
        body = assert_problem(answer, 422, "unprocessable")
        assert body["errors"]
    assert seen == ["/internal/timeline"]


@pytest.mark.parametrize(
    "case",
    [
        "no-credential",
        "empty-credential",
        "wrong-credential",
        "no-token",
        "wrong-token",
        "basic-scheme",
    ],
)
async def test_missing_or_bad_credentials_get_the_routes_401(
    client: httpx.AsyncClient, seen: list[str], case: str
) -> None:
    other = TokenKeys("x" * 64, "y" * 64)
    sent = headers()
    if case == "no-credential":
        del sent[SERVICE_HEADER]
    elif case == "empty-credential":
        sent[SERVICE_HEADER] = ""
    elif case == "wrong-credential":
        sent[SERVICE_HEADER] = issue_service_token(other, "gateway")
    elif case == "no-token":
        del sent["Authorization"]
    elif case == "wrong-token":
        sent["Authorization"] = f"Bearer {issue_user_token(other, READER)}"
    else:
        sent["Authorization"] = "Basic dXNlcjpwdw=="
    answer = await client.get("/internal/timeline", headers=sent)
    assert_problem(answer, 401, "unauthorized")
    assert seen == ["/internal/timeline"]


async def test_an_injected_fault_hits_lane_requests(
    client: httpx.AsyncClient, app: FastAPI, seen: list[str]
) -> None:
    app.state.faults.set(FaultPlan(error_rate=1.0, duration_s=30))
    answer = await client.get("/internal/timeline", headers=headers())
    assert_problem(answer, 503, "injected")
    assert seen == [] and app.state.faults.injected == 1
    app.state.faults.set(FaultPlan(latency_ms=1, duration_s=30))
    assert (await client.get("/internal/timeline", headers=headers())).status_code == 200
    assert app.state.faults.injected == 2


async def test_lane_requests_are_counted_under_the_routes_series(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    for _ in range(3):
        await client.get("/internal/timeline", headers=headers())
    await client.get("/internal/timeline?limit=0", headers=headers())  # the app's, counted too
    assert requests_counted(app, "200") == 3
    assert requests_counted(app, "422") == 1


async def test_a_redis_outage_is_the_apps_503_problem(
    client: httpx.AsyncClient, app: FastAPI, seen: list[str]
) -> None:
    app.state.timelines.down = True
    answer = await client.get("/internal/timeline", headers=headers())
    assert_problem(answer, 503, "dependency-unavailable")
    assert answer.headers["Retry-After"] == "1"
    assert seen == [] and requests_counted(app, "503") == 1


async def test_a_spent_deadline_is_refused_with_504(
    client: httpx.AsyncClient, app: FastAPI, seen: list[str]
) -> None:
    sent = headers() | {"X-Failwhale-Deadline-Ms": "0"}
    answer = await client.get("/internal/timeline", headers=sent)
    assert answer.status_code == 504
    assert seen == [] and app.state.timelines.asked == []


async def test_a_credential_is_verified_once_per_process(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded: list[str] = []
    real_decode = jwt.decode

    def counting_decode(token: str, *args: Any, **kwargs: Any) -> Any:
        decoded.append(token)
        return real_decode(token, *args, **kwargs)

    monkeypatch.setattr(auth.jwt, "decode", counting_decode)
    sent = headers(caller="gateway-once")  # a credential no other test verified
    for _ in range(5):
        assert (await client.get("/internal/timeline", headers=sent)).status_code == 200
    assert decoded.count(sent[SERVICE_HEADER]) == 1


def test_a_lane_needs_a_get_route_of_its_router() -> None:
    lanes = LaneRouter(prefix="/internal")

    @lanes.post("/things")
    async def things() -> None: ...

    async def handler(state: Any, user: User, token: str, args: tuple[Any, ...]) -> Response:
        return Response()

    with pytest.raises(ValueError, match="/internal/things"):
        lanes.lane("/things", lambda query: (), handler)
    settings = ServiceSettings(service_name="timeline", **SECRETS)
    app = build_service_app(settings, title="t", description="t", routers=[router])
    assert isinstance(app, ServiceApp) and app.fast_lanes is not None
    assert list(app.fast_lanes.lanes) == ["/internal/timeline"]
