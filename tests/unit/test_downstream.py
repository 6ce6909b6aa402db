"""Calls between services: credentials sent, 4xx passed back as the same error, outages as 503,
retries only where a call may be repeated, the breaker refusing calls to a failing service, and
replicas failing over to each other."""

import asyncio
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
from services.common.breaker import BreakerConfig
from services.common.downstream import Downstream
from services.common.errors import (
    Conflict,
    DependencyUnavailable,
    NotFound,
    TooManyRequests,
    Unauthorized,
)
from services.common.metrics import ServiceMetrics
from services.common.policy import EdgePolicy
from services.common.replicas import ReplicaSet
from services.common.retry import RetryPolicy
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


# One attempt per call, a breaker that needs many failures: each test sees single calls.
SINGLE = EdgePolicy(retry=RetryPolicy(attempts=1), breaker=BreakerConfig(fail_max=100))


@pytest.fixture
async def http(service: Recorder) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(service)) as client:
        yield client


@pytest.fixture
def make(
    http: httpx.AsyncClient, keys: TokenKeys, metrics: ServiceMetrics
) -> Callable[..., Downstream]:
    def downstream(
        name: str = "posts", policy: EdgePolicy = SINGLE, resilient: bool = True
    ) -> Downstream:
        credential = ServiceCredential(keys, "gateway")
        url = f"http://{name}:8000/"
        return Downstream(name, url, http, credential, metrics, policy, resilient=resilient)

    return downstream


@pytest.fixture
def posts(make: Callable[..., Downstream]) -> Downstream:
    return make()


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


RETRYING = EdgePolicy(
    retry=RetryPolicy(attempts=3, base_s=0.001, max_s=0.002), breaker=BreakerConfig(fail_max=100)
)


def flaky(*statuses: int) -> Handler:
    """Answers with each status in turn, then 200."""
    remaining = list(statuses)
    return lambda _: httpx.Response(remaining.pop(0) if remaining else 200, json={"ok": True})


async def test_idempotent_read_is_retried_after_a_5xx_and_succeeds(
    make: Callable[..., Downstream], service: Recorder
) -> None:
    service.handler = flaky(503, 502)
    answer = await make(policy=RETRYING).request("GET", "/internal/posts/1")
    assert answer.status_code == 200
    assert len(service.requests) == 3


async def test_post_without_an_idempotency_key_is_never_retried(
    make: Callable[..., Downstream], service: Recorder
) -> None:
    service.handler = flaky(503)
    with pytest.raises(DependencyUnavailable):
        await make(policy=RETRYING).request("POST", "/internal/posts", json={"text": "hi"})
    assert len(service.requests) == 1


async def test_post_with_an_idempotency_key_is_retried_with_the_same_key(
    make: Callable[..., Downstream], service: Recorder
) -> None:
    service.handler = flaky(503)
    await make(policy=RETRYING).request(
        "POST", "/internal/posts", json={"text": "hi"}, headers={"Idempotency-Key": "k"}
    )
    assert [r.headers["idempotency-key"] for r in service.requests] == ["k", "k"]


async def test_4xx_is_not_retried(make: Callable[..., Downstream], service: Recorder) -> None:
    service.handler = problem(404, "no post")
    with pytest.raises(NotFound):
        await make(policy=RETRYING).request("GET", "/internal/posts/1")
    assert len(service.requests) == 1


async def test_breaker_opens_after_repeated_failures_and_then_refuses_without_calling(
    make: Callable[..., Downstream], service: Recorder, metrics: ServiceMetrics
) -> None:
    policy = EdgePolicy(retry=RetryPolicy(attempts=1), breaker=BreakerConfig(fail_max=3))
    posts = make(policy=policy)
    service.handler = lambda _: httpx.Response(500)
    for _ in range(3):
        with pytest.raises(DependencyUnavailable):
            await posts.request("GET", "/internal/posts/1")
    assert posts.breaker.state == "open"
    assert not posts.available
    with pytest.raises(DependencyUnavailable, match="suspended") as caught:
        await posts.request("GET", "/internal/posts/1")
    assert len(service.requests) == 3  # the fourth call never left
    assert caught.value.reason == "breaker-open"
    assert int(caught.value.headers["Retry-After"]) >= 1


async def test_client_errors_do_not_open_the_breaker(
    make: Callable[..., Downstream], service: Recorder
) -> None:
    policy = EdgePolicy(retry=RetryPolicy(attempts=1), breaker=BreakerConfig(fail_max=2))
    posts = make(policy=policy)
    service.handler = problem(404, "no post")
    for _ in range(5):
        with pytest.raises(NotFound):
            await posts.request("GET", "/internal/posts/1")
    assert posts.breaker.state == "closed"
    assert len(service.requests) == 5


async def test_with_resilience_off_a_call_is_one_plain_attempt(
    make: Callable[..., Downstream], service: Recorder
) -> None:
    posts = make(policy=RETRYING, resilient=False)
    service.handler = lambda _: httpx.Response(503)
    for _ in range(150):
        with pytest.raises(DependencyUnavailable):
            await posts.request("GET", "/internal/posts/1")
    assert len(service.requests) == 150  # no retry, and no breaker to stop the calls


async def test_bulkhead_refuses_a_call_beyond_the_limit_without_making_it(
    keys: TokenKeys, metrics: ServiceMetrics
) -> None:
    release, in_flight = asyncio.Event(), asyncio.Event()
    arrived: list[str] = []

    async def slow(request: httpx.Request) -> httpx.Response:
        arrived.append(request.url.path)
        in_flight.set()
        await release.wait()
        return httpx.Response(200, json={})

    policy = EdgePolicy(retry=RetryPolicy(attempts=1), max_concurrent=1, read_timeout_s=5.0)
    async with httpx.AsyncClient(transport=httpx.MockTransport(slow)) as client:
        posts = Downstream(
            "posts", "http://posts", client, ServiceCredential(keys, "gw"), metrics, policy
        )
        first = asyncio.create_task(posts.request("GET", "/first"))
        await in_flight.wait()
        with pytest.raises(DependencyUnavailable, match="saturated") as caught:
            await posts.request("GET", "/second")
        assert caught.value.reason == "bulkhead-full"
        release.set()
        assert (await first).status_code == 200
        assert arrived == ["/first"]
        # the slot is free again
        assert (await posts.request("GET", "/third")).status_code == 200


def hosts(service: Recorder) -> list[str]:
    return [r.url.host for r in service.requests]


def replicas(make: Callable[..., Downstream]) -> ReplicaSet:
    return ReplicaSet("timeline", [make("timeline-1"), make("timeline-2")])


async def test_replicas_are_called_in_turn(
    make: Callable[..., Downstream], service: Recorder
) -> None:
    timeline = replicas(make)
    for _ in range(4):
        await timeline.request("GET", "/internal/timeline")
    assert hosts(service) == ["timeline-1", "timeline-2", "timeline-1", "timeline-2"]


async def test_a_read_fails_over_to_the_other_replica(
    make: Callable[..., Downstream], service: Recorder
) -> None:
    def one_dead(request: httpx.Request) -> httpx.Response:
        if request.url.host == "timeline-1":
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"items": [], "next": None})

    service.handler = one_dead
    timeline = replicas(make)
    for _ in range(4):
        answer = await timeline.request("GET", "/internal/timeline")
        assert answer.json() == {"items": [], "next": None}


async def test_all_replicas_down_is_dependency_unavailable(
    make: Callable[..., Downstream], service: Recorder
) -> None:
    service.handler = lambda _: httpx.Response(503)
    with pytest.raises(DependencyUnavailable, match="no replica of timeline"):
        await replicas(make).request("GET", "/internal/timeline")
    assert sorted(hosts(service)) == ["timeline-1", "timeline-2"]


async def test_a_write_without_a_key_is_not_repeated_on_another_replica(
    make: Callable[..., Downstream], service: Recorder
) -> None:
    service.handler = lambda _: httpx.Response(503)
    with pytest.raises(DependencyUnavailable):
        await replicas(make).request("POST", "/internal/something", json={})
    assert len(service.requests) == 1


async def test_a_replica_with_an_open_breaker_is_asked_last(
    make: Callable[..., Downstream], service: Recorder
) -> None:
    timeline = replicas(make)
    timeline.replicas[0].breaker.force_open()
    for _ in range(3):
        await timeline.request("GET", "/internal/timeline")
    assert hosts(service) == ["timeline-2"] * 3


def test_replica_set_needs_a_replica() -> None:
    with pytest.raises(ValueError, match="timeline"):
        ReplicaSet("timeline", [])


# HandleDirectory: handle to id, asked of users once.


@pytest.fixture
def users(service: Recorder, make: Callable[..., Downstream]) -> Downstream:
    def by_handle(request: httpx.Request) -> httpx.Response:
        handle = request.url.path.rsplit("/", 1)[-1]
        if handle == "ghost":
            return problem(404, f"no user {handle!r}")(request)
        return httpx.Response(200, json={"id": len(handle), "handle": handle})

    service.handler = by_handle
    return make("users")


async def test_directory_asks_users_once_per_handle(users: Downstream, service: Recorder) -> None:
    directory = HandleDirectory(users, capacity=10)
    assert await directory.id_of("alice") == 5
    assert await directory.id_of("alice") == 5
    assert [r.url.path for r in service.requests] == ["/internal/users/by-handle/alice"]


async def test_directory_answers_404_for_an_unknown_handle(users: Downstream) -> None:
    with pytest.raises(NotFound, match="ghost"):
        await HandleDirectory(users, capacity=10).id_of("ghost")


@pytest.mark.parametrize(
    "handle", ["Alice", "a", "../internal", "x" * 31, "a%2Fb", "alice\n", "alice\n\n"]
)
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


class SlowService:
    """A downstream that fails fast until `slow_s` is set, then answers 200 after that long."""

    def __init__(self) -> None:
        self.slow_s: float | None = None
        self.answered = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.slow_s is None:
            return httpx.Response(503)
        await asyncio.sleep(self.slow_s)
        self.answered += 1
        return httpx.Response(200, json={"ok": True})


HALF_OPEN_SOON = EdgePolicy(
    read_timeout_s=2.0,
    deadline_s=2.5,
    retry=RetryPolicy(attempts=1),
    breaker=BreakerConfig(fail_max=2, reset_timeout_s=0.1),
)


async def _tripped(keys: TokenKeys, metrics: ServiceMetrics) -> tuple[Downstream, SlowService]:
    slow = SlowService()
    client = httpx.AsyncClient(transport=httpx.MockTransport(slow))
    credential = ServiceCredential(keys, "gateway")
    dms = Downstream("dms", "http://dms:8000", client, credential, metrics, HALF_OPEN_SOON)
    for _ in range(2):
        with pytest.raises(DependencyUnavailable):
            await dms.request("GET", "/v1/conversations")
    assert dms.breaker.state == "open"
    await asyncio.sleep(0.15)  # past the reset timeout: the next call is the probe
    slow.slow_s = 0.6
    return dms, slow


async def test_a_reader_does_not_wait_on_a_slow_probe_which_still_closes_the_breaker(
    keys: TokenKeys, metrics: ServiceMetrics
) -> None:
    dms, slow = await _tripped(keys, metrics)
    loop = asyncio.get_running_loop()
    asked = loop.time()
    with pytest.raises(DependencyUnavailable) as refused:
        await dms.request("GET", "/v1/conversations")
    assert refused.value.reason == "breaker-open"
    assert loop.time() - asked < 0.45  # the patience, not the dependency's 0.6 s
    for _ in range(40):  # the probe goes on and its success closes the breaker
        if dms.breaker.state == "closed":
            break
        await asyncio.sleep(0.05)
    assert slow.answered == 1 and dms.breaker.state == "closed"
    answer = await dms.request("GET", "/v1/conversations")
    assert answer.json() == {"ok": True}
    await dms.client.aclose()


async def test_a_write_without_a_key_that_is_the_probe_waits_for_its_own_outcome(
    keys: TokenKeys, metrics: ServiceMetrics
) -> None:
    dms, slow = await _tripped(keys, metrics)
    answer = await dms.request("POST", "/v1/conversations/with/7/messages", json={"text": "hi"})
    assert answer.status_code == 200 and slow.answered == 1
    assert dms.breaker.state == "closed"
    await dms.client.aclose()


async def test_a_keyed_write_that_is_the_probe_gets_the_fallback_while_the_probe_runs_on(
    keys: TokenKeys, metrics: ServiceMetrics
) -> None:
    """Its fallback (the outbox) sends it again under the same key, which the service applies
    once: tests/integration/test_keyed_probe.py shows it against real services."""
    dms, slow = await _tripped(keys, metrics)
    loop = asyncio.get_running_loop()
    asked = loop.time()
    with pytest.raises(DependencyUnavailable) as refused:
        await dms.request(
            "POST", "/v1/conversations/with/7/messages", json={"text": "hi"},
            headers={"Idempotency-Key": "k-1"},
        )  # fmt: skip
    assert refused.value.reason == "breaker-open"
    assert loop.time() - asked < 0.45  # the patience, not the dependency's 0.6 s
    for _ in range(40):
        if dms.breaker.state == "closed":
            break
        await asyncio.sleep(0.05)
    assert slow.answered == 1 and dms.breaker.state == "closed"
    await dms.client.aclose()
