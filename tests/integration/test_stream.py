"""The post stream and its consumers: trends counts hashtags, and replaying an event (as a
consumer does after a crash) changes neither home timelines nor trend counts."""

import uuid

import httpx
import orjson
import pytest
import redis

from services.common.wire import POST_EVENTS_STREAM
from tests.integration.chirp import eventually, follow, post, sign_up, timeline_ids

pytestmark = pytest.mark.integration
GROUPS = ("timeline", "trends")


def unique_tag() -> str:
    # Ties in trends are broken by tag name: a leading 0 keeps this tag in the top 10.
    return f"0t{uuid.uuid4().hex[:12]}"


def trend_count(api: httpx.Client, tag: str) -> int:
    items = api.get("/v1/trends").json()["items"]
    return next((item["count"] for item in items if item["tag"] == tag), 0)


def stream_entry_of(store: redis.Redis, post_id: object) -> dict[str, str]:
    for _, fields in store.xrevrange(POST_EVENTS_STREAM, count=500):
        if orjson.loads(fields["post"])["id"] == post_id:
            return dict(fields)
    raise AssertionError(f"post {post_id} is not on the stream")


def entry_id(raw: str) -> tuple[int, int]:
    ms, seq = raw.split("-")
    return int(ms), int(seq)


def consumed(store: redis.Redis, entry: str) -> bool:
    """Every consumer group has read `entry` and acknowledged all it read."""
    groups = {g["name"]: g for g in store.xinfo_groups(POST_EVENTS_STREAM)}
    return all(
        name in groups
        and entry_id(groups[name]["last-delivered-id"]) >= entry_id(entry)
        and groups[name]["pending"] == 0
        for name in GROUPS
    )


def test_trends_count_each_post_once_per_hashtag(api: httpx.Client) -> None:
    author = sign_up(api)
    tag = unique_tag()
    post(api, author, f"#{tag} once")
    post(api, author, f"#{tag.upper()} twice in one post #{tag}")
    post(api, author, f"and again #{tag}!")
    assert eventually(lambda: trend_count(api, tag), lambda n: n == 3) == 3


def test_trends_are_ranked_by_count_and_public(api: httpx.Client) -> None:
    author = sign_up(api)
    busy, quiet = unique_tag(), unique_tag()
    for _ in range(3):
        post(api, author, f"#{busy}")
    post(api, author, f"#{quiet}")
    eventually(lambda: trend_count(api, quiet), lambda n: n == 1)
    eventually(lambda: trend_count(api, busy), lambda n: n == 3)
    items = api.get("/v1/trends").json()["items"]
    tags = [item["tag"] for item in items]
    assert tags.index(busy) < tags.index(quiet)
    counts = [item["count"] for item in items]
    assert counts == sorted(counts, reverse=True)
    assert len(items) <= 10


def test_replayed_post_event_changes_no_timeline_and_no_trend(
    api: httpx.Client, store: redis.Redis
) -> None:
    author, follower = sign_up(api), sign_up(api)
    follow(api, follower, author)
    tag = unique_tag()
    created = post(api, author, f"replay me #{tag}")
    eventually(lambda: timeline_ids(api, follower), lambda ids: ids == [created["id"]])
    eventually(lambda: trend_count(api, tag), lambda n: n == 1)

    replayed = store.xadd(POST_EVENTS_STREAM, stream_entry_of(store, created["id"]))
    store.xadd(POST_EVENTS_STREAM, stream_entry_of(store, created["id"]))  # and once more
    eventually(lambda: consumed(store, replayed), bool)

    assert timeline_ids(api, follower) == [created["id"]]
    assert timeline_ids(api, author) == [created["id"]]
    assert trend_count(api, tag) == 1
    page = api.get("/v1/timeline", headers=follower.auth).json()
    assert page == {"items": [created], "next": None}


def test_replay_after_a_new_follow_leaves_no_duplicate_in_any_timeline(
    api: httpx.Client, store: redis.Redis
) -> None:
    # A replay fans out to today's followers, so the late follower may get the older post;
    # what must never happen is a duplicate.
    author, early, late = sign_up(api), sign_up(api), sign_up(api)
    follow(api, early, author)
    created = post(api, author, "before late follows")
    eventually(lambda: timeline_ids(api, early), lambda ids: ids == [created["id"]])
    follow(api, late, author)
    replayed = store.xadd(POST_EVENTS_STREAM, stream_entry_of(store, created["id"]))
    eventually(lambda: consumed(store, replayed), bool)
    for reader in (author, early, late):
        ids = timeline_ids(api, reader)
        assert len(ids) == len(set(ids))
    assert timeline_ids(api, early) == [created["id"]]
