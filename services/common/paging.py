"""Newest-first pages over id-ordered items: fetch one extra to know whether a next page exists."""

from typing import Annotated, Any

import orjson
from fastapi import Query
from starlette.responses import Response

from services.common.limits import PAGE_DEFAULT, PAGE_MAX
from services.common.wire import Post, PostPage, iso_from_ms

LimitQuery = Annotated[int, Query(ge=1, le=PAGE_MAX)]
BeforeQuery = Annotated[int | None, Query(ge=1, description="Only items older than this id")]


def post_page(records: list[str], limit: int) -> PostPage:
    """`records` holds up to limit + 1 stored posts, newest first."""
    posts = [Post.from_record(r) for r in records[:limit]]
    has_more = len(records) > limit
    return PostPage(items=posts, next=posts[-1].id if has_more and posts else None)


def post_page_response(
    records: list[str], limit: int, degraded: list[str] | None = None
) -> Response:
    """The same page as `post_page`, written straight from the stored records with orjson: a
    page read is the hot path, and building then serialising the pydantic models cost more than
    the Redis reads (docs/performance.md). The JSON is the one pydantic writes for `PostPage`.
    A page partly served by a fallback carries its `degraded` reasons in body and header."""
    posts = [_public(r) for r in records[:limit]]
    has_more = len(records) > limit
    page: dict[str, Any] = {"items": posts, "next": posts[-1]["id"] if has_more and posts else None}
    if not degraded:
        return Response(orjson.dumps(page, option=orjson.OPT_UTC_Z), media_type="application/json")
    page["degraded"] = degraded
    return Response(
        orjson.dumps(page, option=orjson.OPT_UTC_Z),
        media_type="application/json",
        headers={"X-Degraded": ",".join(degraded)},
    )


def _public(record: str) -> dict[str, Any]:
    data = orjson.loads(record)
    return {
        "id": int(data["id"]),
        "author": str(data["author"]),
        "text": str(data["text"]),
        "created_at": iso_from_ms(int(data["created_ms"])),
    }


__all__ = ["PAGE_DEFAULT", "BeforeQuery", "LimitQuery", "post_page", "post_page_response"]
