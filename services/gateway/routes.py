"""The public Chirp API (DESIGN.md section 3). Requests are validated here, before any call,
so bad input never reaches a service; answers are the services' own, relayed unchanged."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from services.common.auth import BearerToken, CurrentUser
from services.common.limits import PAGE_DEFAULT, PAGE_MAX
from services.common.paging import BeforeQuery, LimitQuery
from services.common.wire import (
    Conversation,
    Credentials,
    Message,
    NewAccount,
    NewMessage,
    NewPost,
    Post,
    PostPage,
    Session,
    Trends,
)
from services.gateway.deps import BackendsDep, Directory, IdempotencyHeaders
from services.gateway.relay import relay

router = APIRouter(prefix="/v1")
PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Bad request (problem+json)"},
    401: {"description": "Missing, expired or invalid token (problem+json)"},
    404: {"description": "Not found (problem+json)"},
    413: {"description": "Body over 64 KiB (problem+json)"},
    422: {"description": "Invalid input (problem+json)"},
    503: {"description": "A dependency is unavailable; see Retry-After (problem+json)"},
}


@router.post(
    "/users",
    status_code=201,
    response_model=NewAccount,
    tags=["accounts"],
    responses={409: {"description": "The handle is taken"}, **PROBLEMS},
)
async def register(body: Credentials, backends: BackendsDep) -> Response:
    return relay(await backends.users.request("POST", "/internal/users", json=body.model_dump()))


@router.post("/sessions", response_model=Session, tags=["accounts"], responses=PROBLEMS)
async def log_in(body: Credentials, backends: BackendsDep) -> Response:
    return relay(await backends.users.request("POST", "/internal/sessions", json=body.model_dump()))


@router.put("/follows/{handle}", status_code=204, tags=["follows"], responses=PROBLEMS)
async def follow(
    handle: str, _: CurrentUser, token: BearerToken, backends: BackendsDep, directory: Directory
) -> Response:
    followee = await directory.id_of(handle)
    await backends.users.request("PUT", f"/internal/follows/{followee}", user_token=token)
    return Response(status_code=204)


@router.delete("/follows/{handle}", status_code=204, tags=["follows"], responses=PROBLEMS)
async def unfollow(
    handle: str, _: CurrentUser, token: BearerToken, backends: BackendsDep, directory: Directory
) -> Response:
    followee = await directory.id_of(handle)
    await backends.users.request("DELETE", f"/internal/follows/{followee}", user_token=token)
    return Response(status_code=204)


@router.post("/posts", status_code=201, response_model=Post, tags=["posts"], responses=PROBLEMS)
async def create_post(
    body: NewPost,
    _: CurrentUser,
    token: BearerToken,
    backends: BackendsDep,
    idempotency: IdempotencyHeaders,
) -> Response:
    answer = await backends.posts.request(
        "POST", "/internal/posts", user_token=token, json=body.model_dump(), headers=idempotency
    )
    return relay(answer)


@router.get("/posts/{post_id}", response_model=Post, tags=["posts"], responses=PROBLEMS)
async def get_post(post_id: int, _: CurrentUser, backends: BackendsDep) -> Response:
    return relay(await backends.posts.request("GET", f"/internal/posts/{post_id}"))


@router.get("/users/{handle}/posts", response_model=PostPage, tags=["posts"], responses=PROBLEMS)
async def user_posts(
    handle: str,
    _: CurrentUser,
    backends: BackendsDep,
    directory: Directory,
    limit: LimitQuery = PAGE_DEFAULT,
    before: BeforeQuery = None,
) -> Response:
    author = await directory.id_of(handle)
    params: dict[str, int] = {"limit": limit} | ({"before": before} if before else {})
    return relay(
        await backends.posts.request("GET", f"/internal/users/{author}/posts", params=params)
    )


@router.get("/timeline", response_model=PostPage, tags=["timeline"], responses=PROBLEMS)
async def home_timeline(
    _: CurrentUser,
    token: BearerToken,
    backends: BackendsDep,
    limit: LimitQuery = PAGE_DEFAULT,
    before: BeforeQuery = None,
) -> Response:
    params: dict[str, int] = {"limit": limit} | ({"before": before} if before else {})
    return relay(
        await backends.timeline.request(
            "GET", "/internal/timeline", user_token=token, params=params
        )
    )


@router.post(
    "/dms/{handle}", status_code=201, response_model=Message, tags=["dms"], responses=PROBLEMS
)
async def send_dm(
    handle: str,
    body: NewMessage,
    _: CurrentUser,
    token: BearerToken,
    backends: BackendsDep,
    directory: Directory,
    idempotency: IdempotencyHeaders,
) -> Response:
    peer = await directory.id_of(handle)
    answer = await backends.dms.request(
        "POST",
        f"/internal/conversations/{peer}/messages",
        user_token=token,
        json=body.model_dump(),
        headers=idempotency,
    )
    return relay(answer)


@router.get("/dms/{handle}", response_model=Conversation, tags=["dms"], responses=PROBLEMS)
async def read_dms(
    handle: str,
    _: CurrentUser,
    token: BearerToken,
    backends: BackendsDep,
    directory: Directory,
    after_seq: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = PAGE_DEFAULT,
) -> Response:
    peer = await directory.id_of(handle)
    answer = await backends.dms.request(
        "GET",
        f"/internal/conversations/{peer}/messages",
        user_token=token,
        params={"after_seq": after_seq, "limit": limit},
    )
    return relay(answer)


@router.get("/trends", response_model=Trends, tags=["trends"], responses=PROBLEMS)
async def trends(backends: BackendsDep) -> Response:
    return relay(await backends.trends.request("GET", "/internal/trends"))
