"""Home timelines: fan-out on write to the author and followers, newest first, paged."""

import httpx
import pytest

from tests.integration.chirp import eventually, follow, post, sign_up, timeline_ids

pytestmark = pytest.mark.integration
FAN_OUT_S = 10.0


def has(post_id: object) -> object:
    return lambda ids: post_id in ids


def test_follower_sees_a_new_post_in_their_home_timeline(api: httpx.Client) -> None:
    author, follower = sign_up(api), sign_up(api)
    follow(api, follower, author)
    created = post(api, author, "hello followers")
    eventually(lambda: timeline_ids(api, follower), has(created["id"]), FAN_OUT_S)
    items = api.get("/v1/timeline", headers=follower.auth).json()["items"]
    assert created in items  # the same post, field for field


def test_author_sees_their_own_post_in_their_home_timeline(api: httpx.Client) -> None:
    author = sign_up(api)
    created = post(api, author, "talking to myself")
    eventually(lambda: timeline_ids(api, author), has(created["id"]), FAN_OUT_S)


def test_non_follower_does_not_see_the_post(api: httpx.Client) -> None:
    author, follower, stranger = sign_up(api), sign_up(api), sign_up(api)
    follow(api, follower, author)
    created = post(api, author, "not for strangers")
    # Once the follower has it, fan-out of this post is done: the stranger never gets it.
    eventually(lambda: timeline_ids(api, follower), has(created["id"]), FAN_OUT_S)
    assert timeline_ids(api, stranger) == []


def test_after_unfollowing_new_posts_no_longer_arrive(api: httpx.Client) -> None:
    author, reader = sign_up(api), sign_up(api)
    follow(api, reader, author)
    first = post(api, author, "while followed")
    eventually(lambda: timeline_ids(api, reader), has(first["id"]), FAN_OUT_S)
    assert api.delete(f"/v1/follows/{author.handle}", headers=reader.auth).status_code == 204
    later = post(api, author, "after unfollow")
    eventually(lambda: timeline_ids(api, author), has(later["id"]), FAN_OUT_S)
    assert later["id"] not in timeline_ids(api, reader)


def test_home_timeline_mixes_followed_authors_newest_first(api: httpx.Client) -> None:
    reader = sign_up(api)
    authors = [sign_up(api) for _ in range(3)]
    for author in authors:
        follow(api, reader, author)
    created = [post(api, authors[i % 3], f"round {i}")["id"] for i in range(9)]
    ids = eventually(lambda: timeline_ids(api, reader), lambda ids: len(ids) == 9, FAN_OUT_S)
    assert ids == sorted(created, reverse=True)
    items = api.get("/v1/timeline", headers=reader.auth).json()["items"]
    assert [item["author"] for item in items] == [authors[i % 3].handle for i in range(8, -1, -1)]


def test_home_timeline_pages_with_before_have_no_gaps_or_duplicates(api: httpx.Client) -> None:
    author, reader = sign_up(api), sign_up(api)
    follow(api, reader, author)
    created = [post(api, author, f"page {i}")["id"] for i in range(23)]
    eventually(lambda: timeline_ids(api, reader), lambda ids: len(ids) == 23, FAN_OUT_S)
    seen: list[int] = []
    sizes: list[int] = []
    params: dict[str, int] = {"limit": 10}
    while True:
        body = api.get("/v1/timeline", params=params, headers=reader.auth).json()
        page = [item["id"] for item in body["items"]]
        seen.extend(page)
        sizes.append(len(page))
        if body["next"] is None:
            break
        assert body["next"] == page[-1]
        params = {"limit": 10, "before": body["next"]}
    assert sizes == [10, 10, 3]
    assert seen == created[::-1]


def test_home_timeline_default_page_is_20_posts(api: httpx.Client) -> None:
    author = sign_up(api)
    created = [post(api, author, f"d {i}")["id"] for i in range(21)]
    eventually(lambda: timeline_ids(api, author), lambda ids: len(ids) == 21, FAN_OUT_S)
    body = api.get("/v1/timeline", headers=author.auth).json()
    assert [item["id"] for item in body["items"]] == created[::-1][:20]
    assert body["next"] == created[1]


def test_posts_from_before_the_follow_are_not_back_filled(api: httpx.Client) -> None:
    # Fan-out on write: a new follower gets posts made from then on.
    author, reader = sign_up(api), sign_up(api)
    old = post(api, author, "old news")
    eventually(lambda: timeline_ids(api, author), has(old["id"]), FAN_OUT_S)
    follow(api, reader, author)
    new = post(api, author, "fresh")
    assert eventually(lambda: timeline_ids(api, reader), has(new["id"]), FAN_OUT_S) == [new["id"]]


def test_paging_is_stable_while_new_posts_arrive(api: httpx.Client) -> None:
    # A cursor, not an offset: posts made between two page reads shift nothing.
    author, reader = sign_up(api), sign_up(api)
    follow(api, reader, author)
    older = [post(api, author, f"older {i}")["id"] for i in range(8)]
    eventually(lambda: timeline_ids(api, reader), lambda ids: len(ids) == 8, FAN_OUT_S)
    first = api.get("/v1/timeline", params={"limit": 5}, headers=reader.auth).json()
    newer = [post(api, author, f"newer {i}")["id"] for i in range(3)]
    eventually(lambda: timeline_ids(api, reader), lambda ids: len(ids) == 11, FAN_OUT_S)
    params = {"limit": 5, "before": first["next"]}
    second = api.get("/v1/timeline", params=params, headers=reader.auth).json()
    pages = [item["id"] for item in first["items"] + second["items"]]
    assert pages == older[::-1]
    assert second["next"] is None
    assert not set(newer) & set(pages)
