"""Newest-first pages: `post_page` keeps `limit` posts and points `next` at the last one kept."""

import orjson

from services.common.paging import post_page
from services.common.wire import Post


def record(post_id: int) -> str:
    return orjson.dumps(
        {
            "id": post_id,
            "author_id": 7,
            "author": "alice",
            "text": f"post {post_id}",
            "created_ms": 1_700_000_000_000 + post_id,
        }
    ).decode()


def newest_first(*ids: int) -> list[str]:
    return [record(i) for i in ids]


def test_page_with_one_extra_record_keeps_limit_posts_and_points_next_at_the_last_kept() -> None:
    page = post_page(newest_first(9, 8, 7, 6), limit=3)
    assert [p.id for p in page.items] == [9, 8, 7]
    assert page.next == 7


def test_page_with_exactly_limit_records_is_the_last_page() -> None:
    page = post_page(newest_first(9, 8, 7), limit=3)
    assert [p.id for p in page.items] == [9, 8, 7]
    assert page.next is None


def test_short_page_is_the_last_page() -> None:
    page = post_page(newest_first(2), limit=20)
    assert [p.id for p in page.items] == [2]
    assert page.next is None


def test_empty_page_has_no_next() -> None:
    page = post_page([], limit=20)
    assert page.items == []
    assert page.next is None


def test_pages_chained_by_next_cover_every_post_once_in_order() -> None:
    stored = list(range(50, 0, -1))  # ids 50..1, newest first

    def fetch(limit: int, before: int | None) -> list[str]:
        older = [i for i in stored if before is None or i < before]
        return newest_first(*older[: limit + 1])

    seen: list[int] = []
    before: int | None = None
    while True:
        page = post_page(fetch(7, before), 7)
        seen.extend(p.id for p in page.items)
        if page.next is None:
            break
        before = page.next
    assert seen == stored


def test_page_items_are_posts_with_author_text_and_utc_time() -> None:
    (post,) = post_page(newest_first(5), limit=1).items
    assert post == Post(id=5, author="alice", text="post 5", created_at=post.created_at)
    assert post.created_at.timestamp() * 1000 == 1_700_000_000_005
    assert (
        post.created_at.utcoffset() is not None and post.created_at.utcoffset().total_seconds() == 0
    )
