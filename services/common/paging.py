"""Newest-first pages over id-ordered items: fetch one extra to know whether a next page exists."""

from typing import Annotated

from fastapi import Query

from services.common.limits import PAGE_DEFAULT, PAGE_MAX
from services.common.wire import Post, PostPage

LimitQuery = Annotated[int, Query(ge=1, le=PAGE_MAX)]
BeforeQuery = Annotated[int | None, Query(ge=1, description="Only items older than this id")]


def post_page(records: list[str], limit: int) -> PostPage:
    """`records` holds up to limit + 1 stored posts, newest first."""
    posts = [Post.from_record(r) for r in records[:limit]]
    has_more = len(records) > limit
    return PostPage(items=posts, next=posts[-1].id if has_more and posts else None)


__all__ = ["PAGE_DEFAULT", "BeforeQuery", "LimitQuery", "post_page"]
