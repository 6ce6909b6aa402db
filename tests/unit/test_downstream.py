"""Calls between services: credentials sent, 4xx passed back as the same error, outages as 503."""

import contextlib
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from services.common.auth import (
    SERVICE_HEADER,
    ServiceCredential,
    TokenKeys,
    verify_service_token,
)
from services.common.downstream import Downstream, ReplicaSet
from services.common.errors import (
    Conflict,
    DependencyUnavailable,
    NotFound,
    TooManyRequests,
    Unauthorized,
)
from services.common.metrics import ServiceMetrics
from services.gateway.directory import HandleDirectory

pytestmark = pytest.mark.anyio

Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A fake downstream service: answers with `handler` and keeps every request it got."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.handler: Handler = lambda _: httpx.Response(200, json={"ok": True})

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)


@pytest.fixture
def service() -> Recorder:
    return Recorder()


@pytest.fixture
def metrics() -> ServiceMetrics:
    return ServiceMetrics("gateway")


@pytest.fixture
async def posts(
    service: Recorder, keys: TokenKeys, metrics: ServiceMetrics
) -> AsyncIterator[Downstream]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(service)) as client:
        yield Downstream(
            "posts", "http://posts:8000/", client, ServiceCredential(keys, "gateway"), metrics
        )


def problem(status: int, detail: str) -> Handler:
    body = {"type": "x", "title": "t", "status": status, "detail": detail}
    return lambda _: httpx.Response(status, json=body)


def calls(metrics: ServiceMetrics, outcome: str) -> float:
    value = metrics.registry.get_sample_value(
        "failwhale_downstream_calls_total",
        {"service": "gateway", "dependency": "posts", "outcome": outcome},
    )
    return value or 0.0


async def test_call_carries_a_valid_service_credential_and_the_users_token(
    posts: Downstream, service: Recorder, keys: TokenKeys
) -> None:
    answer = await posts.request(
        "POST",
        "/internal/posts",
        user_token="user-token",
        json={"text": "hi"},
        headers={"Idempotency-Key": "k1"},
    )
    assert answer.json() == {"ok": True}
    (sent,) = service.requests
    assert str(sent.url) == "http://posts:8000/internal/posts"
    assert verify_service_token(keys, sent.headers[SERVICE_HEADER]) == "gateway"
    assert sent.headers["authorization"] == "Bearer user-token"
    assert sent.headers["idempotency-key"] == "k1"
    assert sent.content == b'{"text":"hi"}'


async def test_call_without_a_user_token_sends_no_authorization(
    posts: Downstream, service: Recorder
) -> None:
    await posts.request("GET", "/internal/posts/1", params={"limit": 5})
    (sent,) = service.requests
    assert "authorization" not in sent.headers
    assert sent.url.params["limit"] == "5"


@pytest.mark.parametrize(
    ("status", "kind"),
    [(401, Unauthorized), (404, NotFound), (409, Conflict), (429, TooManyRequests)],
)
async def test_downstream_4xx_reaches_the_caller_as_the_same_error_with_its_detail(
    posts: Downstream, service: Recorder, metrics: ServiceMetrics, status: int, kind: type
) -> None:
    service.handler = problem(status, "what posts said")
    with pytest.raises(kind) as caught:
        await posts.request("GET", "/internal/posts/1")
    assert caught.value.detail == "what posts said"
    # A caller's mistake is not an outage of posts.
    assert posts.outcomes.error_rate() == 0.0
    assert calls(metrics, "ok") == 1


async def test_downstream_4xx_without_a_problem_body_keeps_its_text(
    posts: Downstream, service: Recorder
) -> None:
    service.handler = lambda _: httpx.Response(404, text="plain not found")
    with pytest.raises(NotFound, match="plain not found"):
        await posts.request("GET", "/internal/posts/1")


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_downstream_5xx_is_dependency_unavailable_with_retry_after(
    posts: Downstream, service: Recorder, metrics: ServiceMetrics, status: int
) -> None:
    service.handler = lambda _: httpx.Response(status, text="boom")
    with pytest.raises(DependencyUnavailable) as caught:
        await posts.request("GET", "/internal/posts/1")
    assert caught.value.dependency == "posts"
    assert caught.value.status == 503
    assert caught.value.headers["Retry-After"] == "1"
    assert str(status) in caught.value.detail
    assert posts.outcomes.error_rate() == 1.0
    assert calls(metrics, "error") == 1


async def test_refused_connection_is_dependency_unavailable(
    posts: Downstream, service: Recorder, metrics: ServiceMetrics
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    service.handler = refuse
    with pytest.raises(DependencyUnavailable, match="unreachable"):
        await posts.request("GET", "/internal/posts/1")
    assert calls(metrics, "unreachable") == 1


async def test_timeout_is_dependency_unavailable(
    posts: Downstream, service: Recorder, metrics: ServiceMetrics
) -> None:
    def too_slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    service.handler = too_slow
    with pytest.raises(DependencyUnavailable, match="timed out"):
        await posts.request("GET", "/internal/posts/1")
    assert calls(metrics, "timeout") == 1


async def test_error_rate_reflects_a_mix_of_answers(posts: Downstream, service: Recorder) -> None:
    answers = iter([200, 503, 200, 500])
    service.handler = lambda _: httpx.Response(next(answers), json={})
    for _ in range(4):
        with contextlib.suppress(DependencyUnavailable):
            await posts.request("GET", "/internal/posts/1")
    assert posts.outcomes.count() == 4
    assert posts.outcomes.error_rate() == 0.5


def test_replicas_are_called_in_turn() -> None:
    a, b = object(), object()
    replicas = ReplicaSet("timeline", [a, b])  # type: ignore[list-item]
    assert [replicas.next() for _ in range(5)] == [a, b, a, b, a]


def test_replica_set_needs_a_replica() -> None:
    with pytest.raises(ValueError, match="timeline"):
        ReplicaSet("timeline", [])


# HandleDirectory: handle to id, asked of users once.


@pytest.fixture
async def users(
    service: Recorder, keys: TokenKeys, metrics: ServiceMetrics
) -> AsyncIterator[Downstream]:
    def by_handle(request: httpx.Request) -> httpx.Response:
        handle = request.url.path.rsplit("/", 1)[-1]
        if handle == "ghost":
            return problem(404, f"no user {handle!r}")(request)
        return httpx.Response(200, json={"id": len(handle), "handle": handle})

    service.handler = by_handle
    async with httpx.AsyncClient(transport=httpx.MockTransport(service)) as client:
        yield Downstream("users", "http://users", client, ServiceCredential(keys, "gw"), metrics)


async def test_directory_asks_users_once_per_handle(users: Downstream, service: Recorder) -> None:
    directory = HandleDirectory(users, capacity=10)
    assert await directory.id_of("alice") == 5
    assert await directory.id_of("alice") == 5
    assert [r.url.path for r in service.requests] == ["/internal/users/by-handle/alice"]


async def test_directory_answers_404_for_an_unknown_handle(users: Downstream) -> None:
    with pytest.raises(NotFound, match="ghost"):
        await HandleDirectory(users, capacity=10).id_of("ghost")


@pytest.mark.parametrize("handle", ["Alice", "a", "../internal", "x" * 31, "a%2Fb"])
async def test_directory_refuses_impossible_handles_without_asking_users(
    users: Downstream, service: Recorder, handle: str
) -> None:
    with pytest.raises(NotFound):
        await HandleDirectory(users, capacity=10).id_of(handle)
    assert service.requests == []


async def test_directory_forgets_the_least_recently_used_handle_beyond_capacity(
    users: Downstream, service: Recorder
) -> None:
    directory = HandleDirectory(users, capacity=2)
    for handle in ("aaa", "bbbb", "aaa", "ccccc", "aaa", "bbbb"):
        await directory.id_of(handle)
    asked = [r.url.path.rsplit("/", 1)[-1] for r in service.requests]
    assert asked == ["aaa", "bbbb", "ccccc", "bbbb"]
