"""Heavy accounts on the read path, in process: a replica's kept heavy-follow lists (fresh
without a call, refreshed in the background, bounded, flagged when users cannot answer), the
degraded page the replica writes, and the gateway relaying and counting a replica's flags."""

import asyncio
from typing import Any

import httpx
import orjson
import pytest

from services.common.auth import ServiceCredential, TokenKeys, User
from services.common.downstream import Downstream
from services.common.errors import DependencyUnavailable
from services.common.metrics import ServiceMetrics
from services.common.replicas import ReplicaSet
from services.gateway.degraded import Degradations
from services.gateway.reads import LastGoodReads, TimelineReader
from services.timeline.app import HEAVY_FOLLOWS_POLICY
from services.timeline.heavy_follows import HeavyFollows, KeptLists
from services.timeline.home import HomePage, home_page_response

pytestmark = pytest.mark.anyio
CREDENTIAL = ServiceCredential(TokenKeys("u" * 64, "i" * 64), "timeline")


class Users:
    def __init__(self) -> None:
        self.heavy: list[int] = [7, 9]
        self.up = True
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        assert request.url.path.endswith("/heavy-following")
        if not self.up:
            return httpx.Response(503)
        return httpx.Response(200, json={"items": list(self.heavy)})


def follows(
    users: Users, fresh_s: float = 60.0, resilient: bool = True, max_ids: int = 1000
) -> tuple[HeavyFollows, ServiceMetrics]:
    client = httpx.AsyncClient(transport=httpx.MockTransport(users))
    metrics = ServiceMetrics("timeline")
    downstream = Downstream(
        "users-heavy-follows", "http://users", client, CREDENTIAL, metrics, HEAVY_FOLLOWS_POLICY,
        resilient=resilient,
    )  # fmt: skip
    return HeavyFollows(downstream, metrics, fresh_s, max_ids, resilient), metrics


def fallbacks(metrics: ServiceMetrics, fallback: str) -> float:
    value = metrics.series(metrics.fallbacks, "users", fallback)._value.get()
    return float(value)


async def test_a_fresh_list_is_served_without_asking_users_again() -> None:
    users = Users()
    heavy, _ = follows(users)
    assert await heavy.of(1) == ([7, 9], None)
    assert await heavy.of(1) == ([7, 9], None)
    assert users.calls == 1


async def test_a_list_past_half_its_freshness_is_refreshed_in_the_background() -> None:
    users = Users()
    heavy, _ = follows(users, fresh_s=0.2)
    assert await heavy.of(1) == ([7, 9], None)
    await asyncio.sleep(0.12)
    users.heavy = [8]
    assert await heavy.of(1) == ([7, 9], None)  # served at once, a refresh started
    await asyncio.sleep(0.05)
    assert users.calls == 2
    assert await heavy.of(1) == ([8], None)
    await heavy.close()


async def test_users_down_serves_the_kept_list_flagged_cached() -> None:
    users = Users()
    heavy, metrics = follows(users, fresh_s=0.0)
    await heavy.of(1)
    users.up = False
    assert await heavy.of(1) == ([7, 9], "users=cached-heavy-follows")
    assert fallbacks(metrics, "cached-heavy-follows") == 1


async def test_users_down_and_nothing_kept_gives_no_heavy_lists_flagged_missing() -> None:
    users = Users()
    users.up = False
    heavy, metrics = follows(users)
    assert await heavy.of(1) == ([], "users=heavy-posts-missing")
    assert fallbacks(metrics, "heavy-posts-missing") == 1


async def test_with_resilience_off_users_down_is_an_error_not_a_fallback() -> None:
    users = Users()
    users.up = False
    heavy, _ = follows(users, resilient=False)
    with pytest.raises(DependencyUnavailable):
        await heavy.of(1)


def test_kept_lists_stay_within_their_ids_least_recently_read_out_first() -> None:
    kept = KeptLists(max_ids=5)
    kept.put(1, 0.0, [10, 11])
    kept.put(2, 0.0, [])  # an empty list counts as one
    kept.put(3, 0.0, [12, 13])
    assert kept.get(1) is not None  # 1 read: 2 is now the least recently read
    kept.put(4, 0.0, [14])
    assert kept.get(2) is None and kept.get(1) is not None and len(kept) == 3
    assert kept.ids == 5
    kept.put(5, 0.0, list(range(6)))  # heavier than the whole budget: not kept
    assert kept.get(5) is None and kept.ids == 5
    kept.put(1, 0.0, [10])  # replaced, not added
    assert kept.ids == 4


def record(post_id: int) -> str:
    return orjson.dumps(
        {"id": post_id, "author": "a", "text": "t", "created_ms": 1_700_000_000_000}
    ).decode()


def test_a_degraded_page_carries_its_reasons_in_header_and_body() -> None:
    answer = home_page_response(HomePage([record(3), record(2)], ["users=heavy-posts-missing"]), 1)
    body = orjson.loads(answer.body)
    assert answer.headers["X-Degraded"] == "users=heavy-posts-missing"
    assert body["degraded"] == ["users=heavy-posts-missing"]
    assert [item["id"] for item in body["items"]] == [3] and body["next"] == 3


def test_a_whole_page_has_no_degraded_field_or_header() -> None:
    answer = home_page_response(HomePage([record(3)]), 20)
    assert "X-Degraded" not in answer.headers
    assert orjson.loads(answer.body) == {
        "items": [{"id": 3, "author": "a", "text": "t", "created_at": "2023-11-14T22:13:20Z"}],
        "next": None,
    }


async def test_the_gateway_relays_a_replicas_flags_counts_them_and_never_keeps_the_page() -> None:
    flagged: dict[str, Any] = {
        "items": [],
        "next": None,
        "degraded": ["users=cached-heavy-follows"],
    }
    whole: dict[str, Any] = {"items": [], "next": None}
    answers = [flagged, whole]

    def replica(request: httpx.Request) -> httpx.Response:
        body = answers.pop(0)
        headers = {"X-Degraded": ",".join(body["degraded"])} if "degraded" in body else {}
        return httpx.Response(200, json=body, headers=headers)

    metrics = ServiceMetrics("gateway")
    client = httpx.AsyncClient(transport=httpx.MockTransport(replica))
    timeline = Downstream("timeline-1", "http://t1", client, CREDENTIAL, metrics)
    degradations = Degradations(metrics)
    reads = LastGoodReads(degradations, resilient=True, max_bytes=100_000)
    users = Downstream("users", "http://users", client, CREDENTIAL, metrics)
    reader = TimelineReader(
        ReplicaSet("timeline", [timeline]), users, users, reads, degradations, 1000
    )
    answer = await reader.page(User(1, "a"), "token", 20, None)
    assert answer.headers["X-Degraded"] == "users=cached-heavy-follows"
    assert orjson.loads(answer.body)["degraded"] == ["users=cached-heavy-follows"]
    assert metrics.series(metrics.fallbacks, "users", "cached-heavy-follows")._value.get() == 1
    assert degradations.recent("users")
    assert reads.answers.get(("timeline", 1)) is None  # a degraded page is not a last good one
    await reader.page(User(1, "a"), "token", 20, None)
    assert reads.answers.get(("timeline", 1)) == orjson.dumps(whole)
    await reader.follows.close()
