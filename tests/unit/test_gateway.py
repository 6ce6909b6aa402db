"""The gateway in process, its services faked with httpx.MockTransport and its Redis with a small
in-memory stand-in: it checks input and tokens before any call, and relays the services' answers
unchanged. (Its fallbacks, which need a real Redis and real outages, are integration tests.)"""

from collections.abc import AsyncIterator, Callable

import httpx
import orjson
import pytest
from fastapi import FastAPI

from services.common.auth import (
    SERVICE_HEADER,
    ServiceCredential,
    TokenKeys,
    User,
    issue_service_token,
    issue_user_token,
    verify_service_token,
)
from services.common.downstream import Downstream
from services.common.replicas import ReplicaSet
from services.gateway.app import create_app
from services.gateway.backends import Backends
from services.gateway.policies import POLICIES
from services.gateway.settings import GatewaySettings
from services.gateway.wiring import run_gateway
from tests.unit.problems import assert_problem

pytestmark = pytest.mark.anyio

Handler = Callable[[httpx.Request], httpx.Response]
SERVICES = ("users", "posts", "timeline-1", "timeline-2", "dms", "trends")
POST = {"id": 9, "author": "alice", "text": "hi", "created_at": "2026-01-01T00:00:00Z"}


class FakeServices:
    """Every service behind the gateway, answering from `answers[host]`; records each call."""

    def __init__(self) -> None:
        self.calls: list[httpx.Request] = []
        self.answers: dict[str, Handler] = {
            "users": lambda r: httpx.Response(200, json={"id": 2, "handle": "bob"}),
            "posts": lambda r: httpx.Response(201, json=POST),
            "timeline-1": lambda r: httpx.Response(200, json={"items": [], "next": None}),
            "timeline-2": lambda r: httpx.Response(200, json={"items": [], "next": None}),
            "dms": lambda r: httpx.Response(200, json={"items": []}),
            "trends": lambda r: httpx.Response(200, json={"items": [{"tag": "a", "count": 1}]}),
        }

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        return self.answers[request.url.host](request)

    def hosts(self) -> list[str]:
        return [r.url.host for r in self.calls]


class MemoryRedis:
    """The few Redis commands the gateway's write path uses while its services answer."""

    class _Guard:
        breaker = None

    guard = _Guard()

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.last_id = 0

    def register_script(self, _script: str) -> Callable[..., object]:
        async def next_post_id(**_: object) -> str:
            self.last_id += 1
            return str(1_000_000 * 1024 + 512 + self.last_id)

        return next_post_id

    async def set(self, key: str, value: str, nx: bool = False, **_: object) -> bool:
        if nx and key in self.values:
            return False
        self.values[key] = value
        return True

    async def get(self, key: str) -> str | None:
        return self.values.get(key)

    async def delete(self, key: str) -> int:
        return int(self.values.pop(key, None) is not None)

    def lock(self, key: str, **_: object) -> "MemoryLock":
        return MemoryLock(self, key)

    async def xrange(self, *_: object, **__: object) -> list[object]:
        return []  # the outboxes are empty

    async def xlen(self, _: str) -> int:
        return 0


class MemoryLock:
    """redis-py's lock, as the idempotency guard uses it: taken once, released by its holder."""

    def __init__(self, redis: MemoryRedis, key: str) -> None:
        self.redis, self.key = redis, key

    async def acquire(self) -> bool:
        return await self.redis.set(self.key, "holder", nx=True)

    async def release(self) -> None:
        await self.redis.delete(self.key)


@pytest.fixture
def services() -> FakeServices:
    return FakeServices()


@pytest.fixture
def settings(keys: TokenKeys) -> GatewaySettings:
    return GatewaySettings(token_secret=keys.user_secret, internal_secret=keys.internal_secret)


@pytest.fixture
async def gateway(
    settings: GatewaySettings, services: FakeServices
) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = create_app(settings)
    metrics = app.state.metrics
    app.state.redis = MemoryRedis()
    async with httpx.AsyncClient(transport=httpx.MockTransport(services)) as http:
        credential = ServiceCredential(app.state.token_keys, "gateway")

        def downstream(name: str, policy: str) -> Downstream:
            url = f"http://{name}"
            return Downstream(name, url, http, credential, metrics, POLICIES[policy])

        backends = Backends(
            users=downstream("users", "users"),
            posts=downstream("posts", "posts"),
            timeline=ReplicaSet(
                "timeline",
                [downstream("timeline-1", "timeline"), downstream("timeline-2", "timeline")],
            ),
            dms=downstream("dms", "dms"),
            trends=downstream("trends", "trends"),
            logins=Downstream(
                "users-logins", "http://users", http, credential, metrics, POLICIES["logins"]
            ),
        )
        async with run_gateway(settings, backends, app.state.redis, metrics) as gateway:
            app.state.backends = backends
            app.state.gateway = gateway
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
                yield client


@pytest.fixture
def alice(keys: TokenKeys) -> dict[str, str]:
    return {"Authorization": "Bearer " + issue_user_token(keys, User(1, "alice"))}


AUTHENTICATED = [
    ("PUT", "/v1/follows/bob", None),
    ("DELETE", "/v1/follows/bob", None),
    ("POST", "/v1/posts", {"text": "hi"}),
    ("GET", "/v1/posts/1", None),
    ("GET", "/v1/users/bob/posts", None),
    ("GET", "/v1/timeline", None),
    ("POST", "/v1/dms/bob", {"text": "hi"}),
    ("GET", "/v1/dms/bob", None),
]


def bad_tokens(keys: TokenKeys) -> dict[str, dict[str, str]]:
    return {
        "missing": {},
        "garbage": {"Authorization": "Bearer not-a-token"},
        "basic scheme": {"Authorization": "Basic YWxpY2U6cGFzc3dvcmQ="},
        "expired": {
            "Authorization": "Bearer " + issue_user_token(keys, User(1, "alice"), ttl_s=-1)
        },
        "forged": {
            "Authorization": "Bearer "
            + issue_user_token(TokenKeys("f" * 64, "f" * 64), User(1, "alice"))
        },
        "service token": {"Authorization": "Bearer " + issue_service_token(keys, "gateway")},
    }


@pytest.mark.parametrize(("method", "path", "body"), AUTHENTICATED)
@pytest.mark.parametrize(
    "kind", ["missing", "garbage", "basic scheme", "expired", "forged", "service token"]
)
async def test_authenticated_routes_refuse_bad_tokens_before_calling_any_service(
    gateway: httpx.AsyncClient,
    services: FakeServices,
    keys: TokenKeys,
    method: str,
    path: str,
    body: object,
    kind: str,
) -> None:
    answer = await gateway.request(method, path, json=body, headers=bad_tokens(keys)[kind])
    assert_problem(answer, 401, "unauthorized")
    assert answer.headers["www-authenticate"] == "Bearer"
    assert services.calls == []


BAD_INPUT = [
    ("POST", "/v1/posts", {"text": ""}, {}),
    ("POST", "/v1/posts", {"text": "   "}, {}),
    ("POST", "/v1/posts", {"text": "x" * 281}, {}),
    ("POST", "/v1/posts", {"text": "hi", "author": "bob"}, {}),
    ("POST", "/v1/posts", {"text": 1}, {}),
    ("POST", "/v1/posts", ["hi"], {}),
    ("POST", "/v1/posts", {"text": "hi"}, {"Idempotency-Key": "k" * 201}),
    ("POST", "/v1/dms/bob", {"text": "x" * 1001}, {}),
    ("POST", "/v1/dms/bob", {"text": "\n"}, {}),
    ("POST", "/v1/dms/bob", {"text": "hi"}, {"Idempotency-Key": "k" * 201}),
    ("GET", "/v1/timeline?limit=0", None, {}),
    ("GET", "/v1/timeline?limit=101", None, {}),
    ("GET", "/v1/timeline?limit=-1", None, {}),
    ("GET", "/v1/timeline?limit=abc", None, {}),
    ("GET", "/v1/timeline?before=0", None, {}),
    ("GET", "/v1/users/bob/posts?limit=101", None, {}),
    ("GET", "/v1/dms/bob?after_seq=-1", None, {}),
    ("GET", "/v1/dms/bob?limit=0", None, {}),
    ("GET", "/v1/posts/abc", None, {}),
]


@pytest.mark.parametrize(("method", "path", "body", "headers"), BAD_INPUT)
async def test_bad_input_is_a_422_problem_and_never_reaches_a_service(
    gateway: httpx.AsyncClient,
    services: FakeServices,
    alice: dict[str, str],
    method: str,
    path: str,
    body: object,
    headers: dict[str, str],
) -> None:
    answer = await gateway.request(method, path, json=body, headers=alice | headers)
    assert_problem(answer, 422, "unprocessable")
    assert services.calls == []


@pytest.mark.parametrize(
    "body",
    [
        {"handle": "Bad Handle", "password": "long-enough"},
        {"handle": "alice"},
        {"handle": "alice", "password": "long-enough", "is_admin": True},
    ],
)
@pytest.mark.parametrize("path", ["/v1/users", "/v1/sessions"])
async def test_bad_credentials_are_a_422_problem_and_never_reach_users(
    gateway: httpx.AsyncClient, services: FakeServices, path: str, body: object
) -> None:
    assert_problem(await gateway.post(path, json=body), 422)
    assert services.calls == []


async def test_a_password_too_short_to_sign_up_with_is_refused_at_sign_up_only(
    gateway: httpx.AsyncClient, services: FakeServices
) -> None:
    short = {"handle": "alice", "password": "short"}
    assert_problem(await gateway.post("/v1/users", json=short), 422)
    assert services.calls == []
    # At log-in it is a wrong password like any other: users checks it and answers 401.
    await gateway.post("/v1/sessions", json=short)
    assert [(c.method, c.url.path) for c in services.calls] == [("POST", "/internal/sessions")]


async def test_body_over_64_kib_is_a_413_problem_and_never_reaches_a_service(
    gateway: httpx.AsyncClient, services: FakeServices, alice: dict[str, str]
) -> None:
    answer = await gateway.post(
        "/v1/posts",
        content=b'{"text": "' + b"x" * 70_000 + b'"}',
        headers=alice | {"content-type": "application/json"},
    )
    assert_problem(answer, 413, "payload-too-large")
    assert services.calls == []


async def test_malformed_json_is_a_422_problem(
    gateway: httpx.AsyncClient, services: FakeServices, alice: dict[str, str]
) -> None:
    answer = await gateway.post(
        "/v1/posts", content=b'{"text": "hi"', headers=alice | {"content-type": "application/json"}
    )
    assert_problem(answer, 422)
    assert services.calls == []


async def test_new_post_is_forwarded_with_the_users_token_and_key_and_relayed(
    gateway: httpx.AsyncClient, services: FakeServices, alice: dict[str, str], keys: TokenKeys
) -> None:
    services.answers["posts"] = lambda r: httpx.Response(
        201, json=POST, headers={"Idempotent-Replayed": "true", "X-Internal": "secret"}
    )
    answer = await gateway.post(
        "/v1/posts", json={"text": "hi"}, headers=alice | {"Idempotency-Key": "key-1"}
    )
    assert answer.status_code == 201
    assert answer.json() == POST
    assert answer.headers["idempotent-replayed"] == "true"
    assert "x-internal" not in answer.headers
    (call,) = services.calls
    assert (call.method, call.url.path) == ("POST", "/internal/posts")
    assert call.headers["authorization"] == alice["Authorization"]
    assert call.headers["idempotency-key"] == "key-1"
    assert verify_service_token(keys, call.headers[SERVICE_HEADER]) == "gateway"
    sent = orjson.loads(call.content)
    assert sent["text"] == "hi"
    assert set(sent) <= {"text", "id"}  # the gateway may choose the id, nothing else


async def test_post_without_a_key_still_reaches_posts_with_one(
    gateway: httpx.AsyncClient, services: FakeServices, alice: dict[str, str]
) -> None:
    # With a key of its own, posts can tell a retried call from a new post.
    await gateway.post("/v1/posts", json={"text": "hi"}, headers=alice)
    (call,) = services.calls
    assert call.headers["idempotency-key"]


async def test_follow_resolves_the_handle_then_follows_by_id(
    gateway: httpx.AsyncClient, services: FakeServices, alice: dict[str, str]
) -> None:
    services.answers["users"] = lambda r: (
        httpx.Response(200, json={"id": 2, "handle": "bob"})
        if r.method == "GET"
        else httpx.Response(204)
    )
    answer = await gateway.put("/v1/follows/bob", headers=alice)
    assert answer.status_code == 204
    assert answer.content == b""
    assert [(c.method, c.url.path) for c in services.calls] == [
        ("GET", "/internal/users/by-handle/bob"),
        ("PUT", "/internal/follows/2"),
    ]


async def test_user_posts_pass_limit_and_before_to_posts(
    gateway: httpx.AsyncClient, services: FakeServices, alice: dict[str, str]
) -> None:
    services.answers["posts"] = lambda r: httpx.Response(200, json={"items": [POST], "next": 9})
    answer = await gateway.get("/v1/users/bob/posts?limit=1&before=10", headers=alice)
    assert answer.json() == {"items": [POST], "next": 9}
    call = services.calls[-1]
    assert call.url.path == "/internal/users/2/posts"
    assert dict(call.url.params) == {"limit": "1", "before": "10"}


async def test_home_timeline_reads_alternate_between_replicas(
    gateway: httpx.AsyncClient, services: FakeServices, alice: dict[str, str]
) -> None:
    for _ in range(4):
        assert (await gateway.get("/v1/timeline", headers=alice)).status_code == 200
    assert services.hosts() == ["timeline-1", "timeline-2", "timeline-1", "timeline-2"]
    assert dict(services.calls[0].url.params) == {"limit": "20"}


async def test_dm_read_passes_after_seq_and_limit(
    gateway: httpx.AsyncClient, services: FakeServices, alice: dict[str, str]
) -> None:
    await gateway.get("/v1/dms/bob?after_seq=3&limit=5", headers=alice)
    call = services.calls[-1]
    assert call.url.path == "/internal/conversations/2/messages"
    assert dict(call.url.params) == {"after_seq": "3", "limit": "5"}


async def test_service_answering_5xx_becomes_a_503_problem_with_retry_after(
    gateway: httpx.AsyncClient, services: FakeServices, alice: dict[str, str]
) -> None:
    services.answers["posts"] = lambda r: httpx.Response(500, text="Internal Server Error")
    answer = await gateway.get("/v1/posts/1", headers=alice)
    body = assert_problem(answer, 503, "dependency-unavailable")
    assert answer.headers["retry-after"] == "1"
    assert "posts" in str(body["detail"])


async def test_unreachable_users_makes_registration_a_503_problem(
    gateway: httpx.AsyncClient, services: FakeServices
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    services.answers["users"] = refuse
    answer = await gateway.post("/v1/users", json={"handle": "carol", "password": "long-enough"})
    assert_problem(answer, 503)
    assert answer.headers["retry-after"] == "1"


async def test_service_404_reaches_the_user_as_a_404_problem(
    gateway: httpx.AsyncClient, services: FakeServices, alice: dict[str, str]
) -> None:
    services.answers["posts"] = lambda r: httpx.Response(
        404, json={"type": "x", "title": "Not found", "status": 404, "detail": "no post 77"}
    )
    body = assert_problem(await gateway.get("/v1/posts/77", headers=alice), 404, "not-found")
    assert body["detail"] == "no post 77"


async def test_trends_and_status_need_no_token(
    gateway: httpx.AsyncClient, services: FakeServices
) -> None:
    assert (await gateway.get("/v1/trends")).json() == {"items": [{"tag": "a", "count": 1}]}
    status = (await gateway.get("/v1/status")).json()
    assert status["service"] == "gateway"
    assert [d["name"] for d in status["dependencies"]][: len(SERVICES)] == list(SERVICES)
    trends = next(d for d in status["dependencies"] if d["name"] == "trends")
    assert trends["calls"] == 1
    assert trends["error_rate"] == 0.0


async def test_trends_down_is_an_empty_list_flagged_degraded(
    gateway: httpx.AsyncClient, services: FakeServices
) -> None:
    services.answers["trends"] = lambda r: httpx.Response(503)
    answer = await gateway.get("/v1/trends")
    assert answer.status_code == 200
    assert answer.headers["x-degraded"] == "trends=unavailable"
    assert answer.json() == {"items": [], "degraded": ["trends=unavailable"]}


async def test_all_timeline_replicas_down_falls_back_to_fan_out_on_read(
    gateway: httpx.AsyncClient, services: FakeServices, alice: dict[str, str]
) -> None:
    down: Handler = lambda r: httpx.Response(503)  # noqa: E731
    services.answers["timeline-1"] = services.answers["timeline-2"] = down
    services.answers["users"] = lambda r: httpx.Response(200, json={"items": [2, 3]})
    services.answers["posts"] = lambda r: httpx.Response(200, json={"items": [POST], "next": None})
    answer = await gateway.get("/v1/timeline?limit=5", headers=alice)
    assert answer.status_code == 200
    assert answer.headers["x-degraded"] == "timeline=fanout-on-read"
    assert answer.json() == {"items": [POST], "next": None, "degraded": ["timeline=fanout-on-read"]}
    by_authors = next(c for c in services.calls if c.url.host == "posts")
    assert orjson.loads(by_authors.content) == {"authors": [1, 2, 3], "limit": 5, "before": None}


async def test_answers_from_working_services_are_not_flagged(
    gateway: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    for path in ("/v1/timeline", "/v1/trends", "/v1/posts/9"):
        answer = await gateway.get(path, headers=alice)
        assert "x-degraded" not in answer.headers
        assert "degraded" not in answer.json()
