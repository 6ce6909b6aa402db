"""Heavy accounts against real Redis and the real services: the merge on read (newest first,
each post once, paged by `before` across the home set and the heavy authors' lists), a heavy
author's post reaching followers without a write per follower, and the flagged fallback while
users is down."""

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from functools import partial

import httpx
import orjson
import pytest
import redis
import redis.asyncio as aioredis

from services.timeline.store import HomeTimelines
from services.users.store import UserStore
from stack.layout import LocalLayout
from stack.local import LocalStack
from tests.integration.chirp import eventually, follow, post, sign_up, timeline_ids
from tests.integration.own_stack import own_redis

pytestmark = pytest.mark.integration
FAN_OUT_S = 10.0
READER, HEAVY_A, HEAVY_B = 1, 100, 200


@pytest.fixture(scope="module")
def own_layout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalLayout]:
    with own_redis(tmp_path_factory.mktemp("heavy-redis")) as layout:
        yield layout


def record(post_id: int) -> str:
    return orjson.dumps({"id": post_id, "author": "a", "text": "t", "created_ms": 1}).decode()


def on_fresh_redis(url: str, body: Callable[[HomeTimelines], Awaitable[None]]) -> None:
    async def main() -> None:
        client = aioredis.Redis.from_url(url, decode_responses=True)
        try:
            await client.flushdb()
            await body(HomeTimelines(client, max_len=800))
        finally:
            await client.aclose()

    asyncio.run(main())


async def page(
    timelines: HomeTimelines, limit: int, before: int | None = None, heavy: list[int] | None = None
) -> list[int]:
    records = await timelines.page(READER, limit, before, heavy)
    return [int(orjson.loads(r)["id"]) for r in records]


def test_the_merge_is_newest_first_across_the_home_set_and_heavy_lists(
    own_layout: LocalLayout,
) -> None:
    async def body(timelines: HomeTimelines) -> None:
        for post_id in (10, 40, 70):
            await timelines.deliver(post_id, record(post_id), [READER])
        for post_id in (20, 50, 80):
            await timelines.publish_heavy(post_id, record(post_id), HEAVY_A)
        for post_id in (30, 60):
            await timelines.publish_heavy(post_id, record(post_id), HEAVY_B)
        assert await page(timelines, 100, heavy=[HEAVY_A, HEAVY_B]) == [
            80,
            70,
            60,
            50,
            40,
            30,
            20,
            10,
        ]
        assert await page(timelines, 3, heavy=[HEAVY_A, HEAVY_B]) == [80, 70, 60]
        assert await page(timelines, 100, heavy=[HEAVY_B]) == [70, 60, 40, 30, 10]
        assert await page(timelines, 100) == [70, 40, 10]  # no heavy follows: the home set alone

    on_fresh_redis(own_layout.redis_url, body)


def test_a_post_both_fanned_out_and_in_an_author_list_shows_once(own_layout: LocalLayout) -> None:
    async def body(timelines: HomeTimelines) -> None:
        # Fanned out before its author turned heavy, and in the author's list after a replay.
        await timelines.deliver(50, record(50), [READER])
        await timelines.publish_heavy(50, record(50), HEAVY_A)
        await timelines.publish_heavy(60, record(60), HEAVY_A)
        await timelines.deliver(40, record(40), [READER])
        await timelines.publish_heavy(30, record(30), HEAVY_A)
        assert await page(timelines, 100, heavy=[HEAVY_A]) == [60, 50, 40, 30]
        # The duplicate does not take a place on the page: three distinct posts fill three.
        assert await page(timelines, 3, heavy=[HEAVY_A]) == [60, 50, 40]
        # The heavy author reads its own posts from its home set and its list, once each.
        records = await timelines.page(HEAVY_A, 100, None, [HEAVY_A])
        assert [orjson.loads(r)["id"] for r in records] == [60, 50, 30]

    on_fresh_redis(own_layout.redis_url, body)


def test_pages_with_before_cover_every_post_once_across_lists(own_layout: LocalLayout) -> None:
    async def body(timelines: HomeTimelines) -> None:
        expected = []
        for post_id in range(1, 31):
            expected.append(post_id)
            if post_id % 3 == 0:
                await timelines.deliver(post_id, record(post_id), [READER])
            else:
                author = HEAVY_A if post_id % 3 == 1 else HEAVY_B
                await timelines.publish_heavy(post_id, record(post_id), author)
            if post_id % 5 == 0:  # some posts sit in the home set as well
                await timelines.deliver(post_id, record(post_id), [READER])
        seen: list[int] = []
        before = None
        while True:
            # limit + 1, as the route asks: the extra one says whether a next page exists
            ids = await page(timelines, 8, before, [HEAVY_A, HEAVY_B])
            seen.extend(ids[:7])
            if len(ids) <= 7:
                break
            before = ids[6]
        assert seen == sorted(expected, reverse=True)

    on_fresh_redis(own_layout.redis_url, body)


def test_a_heavy_post_is_written_to_the_author_list_and_home_only(own_layout: LocalLayout) -> None:
    async def body(timelines: HomeTimelines) -> None:
        await timelines.publish_heavy(5, record(5), HEAVY_A)
        keys = sorted(await timelines.redis.keys("tl:*"))
        assert keys == [f"tl:author:{HEAVY_A}", f"tl:home:{HEAVY_A}", "tl:post:5"]

    on_fresh_redis(own_layout.redis_url, body)


def heavy_threshold(stack: LocalStack) -> int:
    return int(stack.layout.environment("users")["FAILWHALE_HEAVY_FOLLOWERS"])


def test_a_heavy_authors_post_reaches_followers_without_a_write_per_follower(
    stack: LocalStack, api: httpx.Client, store: redis.Redis
) -> None:
    author = sign_up(api, "celeb")
    followers = [sign_up(api, "fan") for _ in range(heavy_threshold(stack))]
    for fan in followers:
        follow(api, fan, author)
    assert store.sismember("users:heavy", str(author.id))
    created = post(api, author, "to my many followers")
    for fan in (followers[0], followers[-1]):
        eventually(partial(timeline_ids, api, fan), lambda ids: created["id"] in ids, FAN_OUT_S)
    assert store.zscore(f"tl:author:{author.id}", str(created["id"])) is not None
    assert all(store.zscore(f"tl:home:{f.id}", str(created["id"])) is None for f in followers)
    # Sticky: fewer followers than the threshold again, still heavy (its posts stay on one path).
    assert api.delete(f"/v1/follows/{author.handle}", headers=followers[0].auth).status_code == 204
    assert store.sismember("users:heavy", str(author.id))
    later = post(api, author, "still heavy")
    eventually(lambda: timeline_ids(api, followers[1]), lambda ids: later["id"] in ids, FAN_OUT_S)
    assert store.zscore(f"tl:home:{followers[1].id}", str(later["id"])) is None


@pytest.fixture
def users_restored(stack: LocalStack) -> Iterator[LocalStack]:
    yield stack
    if "users" not in stack.processes:
        stack.start_service("users")
    stack.wait_ready("users")


def test_with_users_down_a_reader_without_a_kept_list_gets_the_home_set_flagged(
    users_restored: LocalStack, api: httpx.Client, store: redis.Redis
) -> None:
    stack = users_restored
    author = sign_up(api, "celeb")
    reader = sign_up(api, "reader")
    for fan in [reader, *(sign_up(api, "fan") for _ in range(heavy_threshold(stack) - 1))]:
        follow(api, fan, author)
    assert store.sismember("users:heavy", str(author.id))
    mine = post(api, reader, "my own post")
    eventually(lambda: timeline_ids(api, reader), lambda ids: mine["id"] in ids, FAN_OUT_S)
    # The reads above kept the reader's heavy follows in the replicas that answered; a new reader
    # (no kept list anywhere) is the one whose page must go without them.
    newcomer = sign_up(api, "newbie")
    follow(api, newcomer, author)
    heavy_post = post(api, author, "merged on read")
    stack.stop("users")
    answer = api.get("/v1/timeline", headers=newcomer.auth)
    assert answer.status_code == 200, answer.text
    assert answer.headers["X-Degraded"] == "users=heavy-posts-missing"
    assert answer.json()["degraded"] == ["users=heavy-posts-missing"]
    assert heavy_post["id"] not in [item["id"] for item in answer.json()["items"]]
    metrics = api.get("/metrics").text
    counted = [
        line
        for line in metrics.splitlines()
        if line.startswith("failwhale_fallbacks_total")
        and 'dependency="users"' in line
        and 'fallback="heavy-posts-missing"' in line
    ]
    assert counted and float(counted[0].rsplit(" ", 1)[1]) >= 1


def test_users_keeps_the_heavy_set_sticky_and_answers_fanout_targets(
    own_layout: LocalLayout,
) -> None:
    async def main() -> None:
        client = aioredis.Redis.from_url(own_layout.redis_url, decode_responses=True)
        try:
            await client.flushdb()
            for user_id in (1, 2, 3, 4, 5, 6):
                await client.hset(f"users:{user_id}", mapping={"id": user_id})
            users = UserStore(client, heavy_followers=3)
            await users.follow(2, 1)
            await users.follow(3, 1)
            assert await users.fanout_targets(1) == (False, [2, 3])
            await users.follow(4, 1)  # the third follower: heavy from now on
            assert await users.fanout_targets(1) == (True, [])
            await users.unfollow(4, 1)
            await users.unfollow(3, 1)
            assert await users.fanout_targets(1) == (True, [])  # sticky
            # A follower set grown past the threshold without the follow script (a bulk seed)
            # turns heavy at its first fan-out.
            await client.sadd("users:5:followers", 1, 2, 3, 4)
            assert await users.fanout_targets(5) == (True, [])
            await users.follow(2, 6)
            assert await users.heavy_following(2) == [1]  # 6 is not heavy
            await client.sadd("users:2:following", 5)
            assert await users.heavy_following(2) == [1, 5]
        finally:
            await client.aclose()

    asyncio.run(main())
