"""Internal routes of posts; the gateway calls them with a service credential."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from services.common.auth import CurrentUser, InternalCaller
from services.common.errors import Unprocessable
from services.common.idempotency import fingerprint, idempotency_key
from services.common.limits import PAGE_MAX, PostText
from services.common.paging import PAGE_DEFAULT, BeforeQuery, LimitQuery, post_page_response
from services.common.redis_store import RedisDep
from services.common.wire import NewPost, Post, PostPage
from services.posts.store import PostStore

router = APIRouter(prefix="/internal", tags=["posts"])
MAX_BATCH = 200
MAX_AUTHORS = 5000


async def get_store(redis: RedisDep, request: Request) -> PostStore:
    return PostStore(redis, request.app.state.settings.stream_max_len)


Store = Annotated[PostStore, Depends(get_store)]
IdempotencyKey = Annotated[str | None, Depends(idempotency_key)]


class ChosenPost(NewPost):
    """A post whose id the gateway chose already (so that a retry, or a delivery from its
    outbox, can never make a second post)."""

    id: int | None = Field(default=None, gt=0)


class OutboxPost(BaseModel):
    """A post the gateway accepted into its outbox while posts was away, delivered later."""

    model_config = ConfigDict(extra="forbid")
    id: int = Field(gt=0)
    author_id: int = Field(gt=0)
    author: str
    text: PostText


class Authors(BaseModel):
    model_config = ConfigDict(extra="forbid")
    authors: list[int] = Field(max_length=MAX_AUTHORS)
    limit: int = Field(PAGE_DEFAULT, ge=1, le=PAGE_MAX)
    before: int | None = Field(default=None, ge=1)


@router.post("/posts", status_code=201, response_model=Post)
async def create_post(
    body: ChosenPost, user: CurrentUser, store: Store, key: IdempotencyKey, _: InternalCaller
) -> Response:
    outcome, record = await store.create(
        user.id, user.handle, body.text, key, fingerprint({"text": body.text}), body.id
    )
    return _created(outcome, record)


@router.post("/outbox/posts", status_code=201, response_model=Post)
async def deliver_from_outbox(
    body: OutboxPost, store: Store, key: IdempotencyKey, _: InternalCaller
) -> Response:
    outcome, record = await store.create(
        body.author_id, body.author, body.text, key, fingerprint({"text": body.text}), body.id
    )
    return _created(outcome, record)


@router.post("/posts/by-authors", response_model=PostPage)
async def posts_by_authors(body: Authors, store: Store, _: InternalCaller) -> Response:
    records = await store.by_authors(body.authors, body.limit + 1, body.before)
    return post_page_response(records, body.limit)


def _created(outcome: str, record: str) -> Response:
    headers = {"Idempotent-Replayed": "true"} if outcome == "replay" else {}
    post = Post.from_record(record)
    return Response(post.model_dump_json(), 201, headers, media_type="application/json")


@router.get("/posts/{post_id}")
async def get_post(post_id: int, store: Store, _: InternalCaller) -> Post:
    return Post.from_record(await store.get(post_id))


@router.get("/posts")
async def get_posts(
    store: Store, _: InternalCaller, ids: Annotated[str, Query(max_length=4000)] = ""
) -> PostPage:
    try:
        wanted = [int(i) for i in ids.split(",") if i]
    except ValueError as exc:
        raise Unprocessable("ids must be comma-separated integers") from exc
    if len(wanted) > MAX_BATCH:
        raise Unprocessable(f"at most {MAX_BATCH} ids at once")
    return PostPage(items=[Post.from_record(r) for r in await store.get_many(wanted)])


@router.get("/users/{author_id}/posts", response_model=PostPage)
async def posts_by_author(
    author_id: int,
    store: Store,
    _: InternalCaller,
    limit: LimitQuery = PAGE_DEFAULT,
    before: BeforeQuery = None,
) -> Response:
    return post_page_response(await store.by_author(author_id, limit + 1, before), limit)
