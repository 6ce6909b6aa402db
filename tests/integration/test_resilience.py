"""The resilience layer against real processes: each edge's dependency is killed (SIGKILL) or
paused (SIGSTOP) under a steady stream of requests; the answers must be the edge's fallback, its
breaker must open, and everything must come back once the process does."""

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from stack.local import LocalStack
from tests.integration.chirp import (
    Member,
    eventually,
    post,
    settle_breakers,
    sign_up,
    timeline_ids,
)
from tests.integration.own_stack import author_and_reader, own_stack
from tests.integration.steady import BreakerWatch, SteadyStream

pytestmark = pytest.mark.integration

KILL, PAUSE = signal.SIGKILL, signal.SIGSTOP


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A stack of its own: these tests kill its processes."""
    with own_stack(tmp_path_factory.mktemp("resilience")) as local:
        yield local


@pytest.fixture
def api(stack: LocalStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.layout.gateway_url, timeout=10) as client:
        yield client


@pytest.fixture
def pair(api: httpx.Client) -> tuple[Member, Member]:
    return author_and_reader(api, "before the fault")


def fault(stack: LocalStack, name: str, how: signal.Signals) -> None:
    stack.send_signal(name, how)


def heal(stack: LocalStack, names: str | tuple[str, ...], how: signal.Signals) -> None:
    for name in (names,) if isinstance(names, str) else names:
        if how == PAUSE:
            stack.send_signal(name, signal.SIGCONT)
        else:
            stack.restart(name)
    settle_breakers(stack.layout.gateway_url)


def statuses(answers: list) -> dict[int, int]:  # type: ignore[type-arg]
    counts: dict[int, int] = {}
    for answer in answers:
        counts[answer.status] = counts.get(answer.status, 0) + 1
    return counts


@pytest.mark.parametrize("how", [KILL, PAUSE], ids=["killed", "paused"])
def test_one_timeline_replica_down_costs_users_nothing(
    stack: LocalStack, pair: tuple[Member, Member], how: signal.Signals
) -> None:
    _, reader = pair
    url = stack.layout.gateway_url
    read = lambda c: c.get("/v1/timeline", headers=reader.auth)  # noqa: E731
    with BreakerWatch(url) as watch, SteadyStream(url, read, rate=25) as stream:
        time.sleep(1.0)
        fault(stack, "timeline-1", how)
        fault_at = stream.now()
        time.sleep(3.0)
        heal(stack, "timeline-1", how)
        eventually(lambda: watch.states("timeline-1")[-1], lambda s: s == "closed", 10)
    answers = stream.between(0)
    assert statuses(answers) == {200: len(answers)}, "a user saw an error"
    assert not any(a.degraded for a in answers), "one replica suffices: nothing is degraded"
    assert "open" in watch.states("timeline-1")
    assert watch.states("timeline-2") == ["closed"]
    opened = watch.first("timeline-1", "open", after=fault_at - 0.2)
    assert opened is not None and opened - fault_at < 2.0


@pytest.mark.parametrize("how", [KILL, PAUSE], ids=["killed", "paused"])
def test_all_timeline_replicas_down_fall_back_to_fan_out_on_read(
    stack: LocalStack, api: httpx.Client, pair: tuple[Member, Member], how: signal.Signals
) -> None:
    author, reader = pair
    url = stack.layout.gateway_url
    read = lambda c: c.get("/v1/timeline", headers=reader.auth)  # noqa: E731
    with BreakerWatch(url) as watch, SteadyStream(url, read, rate=20) as stream:
        time.sleep(0.5)
        for replica in ("timeline-1", "timeline-2"):
            fault(stack, replica, how)
        fault_at = stream.now()
        time.sleep(3.0)
        during = api.get("/v1/timeline", headers=reader.auth)
        heal_started = stream.now()
        heal(stack, ("timeline-1", "timeline-2"), how)
        eventually(
            lambda: [watch.states(r)[-1] for r in ("timeline-1", "timeline-2")],
            lambda s: s == ["closed", "closed"],
            12,
        )
        healed_at = stream.now()
        time.sleep(0.5)
    assert during.status_code == 200
    assert during.headers["x-degraded"] == "timeline=fanout-on-read"
    body = during.json()
    assert body["degraded"] == ["timeline=fanout-on-read"]
    assert [p["author"] for p in body["items"]][:1] == [author.handle]
    answers = stream.between(0)
    assert statuses(answers) == {200: len(answers)}
    settled = stream.between(fault_at + 2.0, heal_started)
    assert settled and all(a.degraded == "timeline=fanout-on-read" for a in settled)
    assert not any(a.degraded for a in stream.between(healed_at + 0.2))
    assert "open" in watch.states("timeline-1") and "open" in watch.states("timeline-2")


def test_timeline_and_posts_down_serve_the_last_page_flagged_stale(
    stack: LocalStack, api: httpx.Client, pair: tuple[Member, Member]
) -> None:
    _, reader = pair
    served = api.get("/v1/timeline", headers=reader.auth).json()["items"]
    for name in ("timeline-1", "timeline-2", "posts"):
        fault(stack, name, KILL)
    try:
        stale = api.get("/v1/timeline", headers=reader.auth)
        stranger = sign_up(api, "nobody")
        unknown = api.get("/v1/timeline", headers=stranger.auth)
    finally:
        heal(stack, ("timeline-1", "timeline-2", "posts"), KILL)
    assert stale.status_code == 200
    assert stale.headers["x-degraded"] == "timeline=stale-cache"
    assert stale.json()["items"] == served
    assert unknown.status_code == 503
    assert unknown.headers["content-type"] == "application/problem+json"
    assert int(unknown.headers["retry-after"]) >= 1


@pytest.mark.parametrize("how", [KILL, PAUSE], ids=["killed", "paused"])
def test_posts_written_while_posts_is_down_are_accepted_and_delivered_once_in_order(
    stack: LocalStack, api: httpx.Client, pair: tuple[Member, Member], how: signal.Signals
) -> None:
    author, reader = pair
    url = stack.layout.gateway_url
    counter = iter(range(10_000))

    def write(client: httpx.Client) -> httpx.Response:
        n = next(counter)
        return client.post(
            "/v1/posts",
            json={"text": f"steady {how.name} {n}"},
            headers=author.auth | {"Idempotency-Key": f"{author.handle}-{how.name}-{n}"},
        )

    accepted: list[int] = []
    with BreakerWatch(url) as watch, SteadyStream(url, write, rate=10) as stream:
        time.sleep(0.5)
        fault(stack, "posts", how)
        time.sleep(4.0)
        heal(stack, "posts", how)
        time.sleep(0.5)
    answers = stream.between(0)
    assert {a.status for a in answers} <= {201, 202}, statuses(answers)
    queued = [a for a in answers if a.status == 202]
    assert queued and all(a.degraded == "posts=outbox" for a in queued)
    assert "open" in watch.states("posts")
    eventually(lambda: api.get("/v1/status").json()["outbox_depth"]["posts"], lambda d: d == 0, 15)
    mine = []
    before = None
    while True:
        page = api.get(
            f"/v1/users/{author.handle}/posts",
            params={"limit": 100} | ({"before": before} if before else {}),
            headers=reader.auth,
        ).json()
        mine += [p for p in page["items"] if p["text"].startswith(f"steady {how.name} ")]
        if not page["next"]:
            break
        before = page["next"]
    texts = [p["text"] for p in mine]
    assert len(texts) == len(set(texts)), "a post was stored twice"
    assert len(texts) == len(answers), "an accepted post was lost"
    numbers = [int(t.rsplit(" ", 1)[1]) for t in reversed(texts)]
    assert numbers == sorted(numbers), "posts are not in the order they were accepted"
    accepted = [p["id"] for p in mine]
    assert accepted == sorted(accepted, reverse=True)


def test_a_post_read_before_posts_died_is_served_from_cache(
    stack: LocalStack, api: httpx.Client, pair: tuple[Member, Member]
) -> None:
    author, reader = pair
    seen = post(api, author, "read me once")
    unseen = post(api, author, "never read")
    assert api.get(f"/v1/posts/{seen['id']}", headers=reader.auth).status_code == 200
    fault(stack, "posts", KILL)
    try:
        cached = api.get(f"/v1/posts/{seen['id']}", headers=reader.auth)
        missing = api.get(f"/v1/posts/{unseen['id']}", headers=reader.auth)
    finally:
        heal(stack, "posts", KILL)
    assert cached.status_code == 200
    assert cached.headers["x-degraded"] == "posts=cached"
    assert cached.json()["text"] == "read me once"
    assert missing.status_code == 503
    assert "retry-after" in missing.headers


@pytest.mark.parametrize("how", [KILL, PAUSE], ids=["killed", "paused"])
def test_dms_sent_while_dms_is_down_are_delivered_in_order(
    stack: LocalStack, api: httpx.Client, how: signal.Signals
) -> None:
    alice, bob = sign_up(api, "alice"), sign_up(api, "bob")
    sent: list[str] = []

    def send(i: int) -> httpx.Response:
        text = f"message {i}"
        sent.append(text)
        sender, peer = (alice, bob) if i % 2 == 0 else (bob, alice)
        return api.post(f"/v1/dms/{peer.handle}", json={"text": text}, headers=sender.auth)

    assert send(0).status_code == 201
    history = api.get(f"/v1/dms/{bob.handle}", headers=alice.auth)
    fault(stack, "dms", how)
    try:
        during = [send(i) for i in range(1, 7)]
        stale = api.get(f"/v1/dms/{bob.handle}", headers=alice.auth)
    finally:
        heal(stack, "dms", how)
    after = [send(i) for i in range(7, 10)]
    assert all(a.status_code == 202 and a.headers["x-degraded"] == "dms=outbox" for a in during)
    assert all(a.json()["seq"] is None for a in during)
    assert all(a.status_code in (201, 202) for a in after)
    assert stale.status_code == 200
    assert stale.headers["x-degraded"] == "dms=stale-cache"
    assert stale.json()["items"] == history.json()["items"]
    conversation = eventually(
        lambda: api.get(f"/v1/dms/{alice.handle}", headers=bob.auth).json().get("items", []),
        lambda items: len(items) == 10,
        15,
    )
    assert [m["text"] for m in conversation] == sent
    assert [m["seq"] for m in conversation] == list(range(1, 11))


@pytest.mark.parametrize("how", [KILL, PAUSE], ids=["killed", "paused"])
def test_users_down_keeps_tokens_working_and_refuses_follows(
    stack: LocalStack, api: httpx.Client, pair: tuple[Member, Member], how: signal.Signals
) -> None:
    author, reader = pair
    other = sign_up(api, "other")
    fault(stack, "users", how)
    try:
        timeline = api.get("/v1/timeline", headers=reader.auth)
        posted = api.post("/v1/posts", json={"text": "users is away"}, headers=author.auth)
        followed = api.put(f"/v1/follows/{other.handle}", headers=reader.auth)
        login = api.post("/v1/sessions", json={"handle": other.handle, "password": "x" * 12})
    finally:
        heal(stack, "users", how)
    assert timeline.status_code == 200
    assert posted.status_code == 201
    assert followed.status_code == 503
    assert followed.headers["content-type"] == "application/problem+json"
    assert int(followed.headers["retry-after"]) >= 1
    assert login.status_code == 503
    # Fan-out waited for users to come back, and caught up.
    eventually(lambda: timeline_ids(api, reader), lambda ids: posted.json()["id"] in ids, 15)
    eventually(
        lambda: api.put(f"/v1/follows/{other.handle}", headers=reader.auth).status_code,
        lambda code: code == 204,
        10,
    )


@pytest.mark.parametrize("how", [KILL, PAUSE], ids=["killed", "paused"])
def test_trends_down_answers_an_empty_list_at_once(
    stack: LocalStack, api: httpx.Client, how: signal.Signals
) -> None:
    url = stack.layout.gateway_url
    read = lambda c: c.get("/v1/trends")  # noqa: E731
    with BreakerWatch(url) as watch, SteadyStream(url, read, rate=20) as stream:
        time.sleep(0.5)
        fault(stack, "trends", how)
        fault_at = stream.now()
        time.sleep(2.5)
        heal(stack, "trends", how)
        time.sleep(0.5)
    down = stream.between(fault_at + 0.1, fault_at + 2.5)
    assert down and all(a.status == 200 for a in down)
    assert all(a.degraded == "trends=unavailable" for a in down)
    assert max(a.latency_s for a in down) < 1.0
    assert "open" in watch.states("trends")
    # Reset is 10 s for trends: the probe comes later; then answers are whole again.
    eventually(lambda: api.get("/v1/trends").headers.get("x-degraded"), lambda d: d is None, 15)


@pytest.mark.parametrize("how", [KILL, PAUSE], ids=["killed", "paused"])
def test_redis_down_answers_503_quickly_and_the_gateway_serves_what_it_holds(
    stack: LocalStack, api: httpx.Client, pair: tuple[Member, Member], how: signal.Signals
) -> None:
    _, reader = pair
    served = api.get("/v1/timeline", headers=reader.auth).json()["items"]
    fault(stack, "redis", how)
    try:
        timings = []
        answers = []
        for _ in range(8):
            started = time.monotonic()
            answers.append(api.get("/v1/timeline", headers=reader.auth))
            timings.append(time.monotonic() - started)
        write = api.post("/v1/posts", json={"text": "no store"}, headers=reader.auth)
    finally:
        heal(stack, "redis", how)
    assert all(a.status_code == 200 for a in answers)
    assert all(a.headers["x-degraded"] == "timeline=stale-cache" for a in answers)
    assert all(a.json()["items"] == served for a in answers)
    assert max(timings) < 5.0, "a request hung on the dead store"
    assert sorted(timings)[len(timings) // 2] < 0.5, "the breakers should answer at once"
    assert write.status_code == 503
    assert "retry-after" in write.headers
    eventually(
        lambda: api.get("/v1/timeline", headers=reader.auth).headers.get("x-degraded"),
        lambda d: d is None,
        15,
    )


def test_breaker_states_and_fallbacks_are_exported_as_metrics(
    stack: LocalStack, api: httpx.Client
) -> None:
    fault(stack, "trends", KILL)
    try:
        for _ in range(5):
            api.get("/v1/trends")
        metrics = api.get("/metrics").text
    finally:
        heal(stack, "trends", KILL)
    assert 'failwhale_breaker_state{dependency="trends",service="gateway"} 2.0' in metrics
    assert 'failwhale_fallbacks_total{dependency="trends",fallback="unavailable"' in metrics
    assert 'failwhale_rejections_total{dependency="trends",reason="breaker"' in metrics
    log = Path(stack.logs / "gateway.log").read_text()
    assert '"event":"breaker_state"' in log and '"breaker":"trends"' in log
