"""The public Chirp API (README.md, and /docs on the gateway). Requests are validated here,
before any call, so bad input never reaches a service; answers are the services' own, relayed
unchanged.

`GET /v1/timeline`, the hottest read, also has a fast lane (services.common.fast_lane): a read
with a good token and a plain query takes it; the route stays the reference (the OpenAPI, and
whatever the lane leaves to it: bad tokens, bad queries)."""

from typing import Annotated, Any

from fastapi import Query, Response

from services.common.auth import BearerToken, CurrentUser, User
from services.common.errors import Unprocessable
from services.common.fast_lane import LaneRouter, page_query
from services.common.limits import PAGE_DEFAULT, PAGE_MAX
from services.common.paging import BeforeQuery, LimitQuery
from services.common.wire import (
    Conversation,
    Credentials,
    LogIn,
    Message,
    NewAccount,
    NewMessage,
    NewPost,
    Post,
    PostPage,
    Session,
    Trends,
)
from services.gateway.deps import BackendsDep, Directory, GatewayDep, IdempotencyKey
from services.gateway.directory import HandleDirectory
from services.gateway.relay import relay
from services.gateway.wiring import Gateway

# Operation ids are the route functions' names ("follow", not "follow_v1_follows__handle__put"):
# the OpenAPI links below name them, and so can clients.
router = LaneRouter(prefix="/v1", generate_unique_id_function=lambda route: route.name)


def link(operation: str, **parameters: str) -> dict[str, Any]:
    return {"operationId": operation, "parameters": parameters}


# OpenAPI links: where the answer of a write leads (what a stateful test follows). Link names
# follow OpenAPI's component-name rule (letters, digits, ".", "-", "_").
NEW_MEMBER_LINKS = {
    "follow": link("follow", handle="$response.body#/handle"),
    "unfollow": link("unfollow", handle="$response.body#/handle"),
    "read_their_posts": link("user_posts", handle="$response.body#/handle"),
    "write_to_them": link("send_dm", handle="$response.body#/handle"),
    "read_the_conversation": link("read_dms", handle="$response.body#/handle"),
}
NEW_POST_LINKS = {
    "read_it": link("get_post", post_id="$response.body#/id"),
    "read_the_authors_posts": link("user_posts", handle="$response.body#/author"),
}
ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {
        "description": "Accepted into the outbox while the service is away; "
        "delivered in order when it is back (X-Degraded says so)"
    }
}
IN_PROGRESS: dict[int | str, dict[str, Any]] = {
    409: {"description": "A request with this Idempotency-Key is in progress; retry later"}
}
LOCKED_OUT: dict[int | str, dict[str, Any]] = {
    429: {"description": "Too many failed logins for this handle; see Retry-After"}
}
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
    responses={
        201: {"description": "The new member and their token", "links": NEW_MEMBER_LINKS},
        409: {"description": "The handle is taken"},
        **PROBLEMS,
    },
)
async def register(body: Credentials, backends: BackendsDep) -> Response:
    return relay(
        await backends.users.request(
            "POST", "/internal/users", json=body.model_dump(), slow_ok=True
        )
    )


@router.post(
    "/sessions", response_model=Session, tags=["accounts"], responses={**LOCKED_OUT, **PROBLEMS}
)
async def log_in(body: LogIn, backends: BackendsDep) -> Response:
    return relay(
        await backends.logins.request(
            "POST", "/internal/sessions", json=body.model_dump(), idempotent=True, slow_ok=True
        )
    )


@router.put("/follows/{handle}", status_code=204, tags=["follows"], responses=PROBLEMS)
async def follow(
    handle: str, user: CurrentUser, token: BearerToken, gateway: GatewayDep, directory: Directory
) -> Response:
    return await _change_follow("PUT", handle, user, token, gateway, directory)


@router.delete("/follows/{handle}", status_code=204, tags=["follows"], responses=PROBLEMS)
async def unfollow(
    handle: str, user: CurrentUser, token: BearerToken, gateway: GatewayDep, directory: Directory
) -> Response:
    return await _change_follow("DELETE", handle, user, token, gateway, directory)


async def _change_follow(
    method: str, handle: str, user: User, token: str, gateway: Gateway, directory: HandleDirectory
) -> Response:
    followee = await directory.id_of(handle)
    try:
        await gateway.backends.users.request(
            method, f"/internal/follows/{followee}", user_token=token
        )
    finally:  # changed, or maybe changed (a timeout): the kept follow list is no longer sure
        gateway.timeline.follows.forget(user.id)
    return Response(status_code=204)


@router.post(
    "/posts",
    status_code=201,
    response_model=Post,
    tags=["posts"],
    responses={
        201: {"description": "The post", "links": NEW_POST_LINKS},
        **ACCEPTED,
        **IN_PROGRESS,
        **PROBLEMS,
    },
)
async def create_post(
    body: NewPost, user: CurrentUser, token: BearerToken, gateway: GatewayDep, key: IdempotencyKey
) -> Response:
    return await gateway.posts.create(user, token, body.text, key)


@router.get("/posts/{post_id}", response_model=Post, tags=["posts"], responses=PROBLEMS)
async def get_post(post_id: int, _: CurrentUser, gateway: GatewayDep) -> Response:
    posts = gateway.backends.posts
    return await gateway.reads.read(
        ("post", post_id), "posts", "cached",
        lambda: posts.request("GET", f"/internal/posts/{post_id}"),
    )  # fmt: skip


@router.get("/users/{handle}/posts", response_model=PostPage, tags=["posts"], responses=PROBLEMS)
async def user_posts(
    handle: str,
    _: CurrentUser,
    gateway: GatewayDep,
    directory: Directory,
    limit: LimitQuery = PAGE_DEFAULT,
    before: BeforeQuery = None,
) -> Response:
    author = await directory.id_of(handle)
    params: dict[str, int] = {"limit": limit} | ({"before": before} if before else {})
    posts = gateway.backends.posts
    return await gateway.reads.page(
        ("user-posts", author), limit, before, "posts",
        lambda: posts.request("GET", f"/internal/users/{author}/posts", params=params),
    )  # fmt: skip


@router.get("/timeline", response_model=PostPage, tags=["timeline"], responses=PROBLEMS)
async def home_timeline(
    user: CurrentUser,
    token: BearerToken,
    gateway: GatewayDep,
    limit: LimitQuery = PAGE_DEFAULT,
    before: BeforeQuery = None,
) -> Response:
    return await gateway.timeline.page(user, token, limit, before)


async def _home_timeline_lane(
    state: Any, user: User, token: str, args: tuple[Any, ...]
) -> Response:
    limit, before = args
    gateway: Gateway = state.gateway
    return await gateway.timeline.page(user, token, limit, before)


router.lane("/timeline", page_query, _home_timeline_lane, internal=False)


@router.post(
    "/dms/{handle}",
    status_code=201,
    response_model=Message,
    tags=["dms"],
    responses={**ACCEPTED, **IN_PROGRESS, **PROBLEMS},
)
async def send_dm(
    handle: str,
    body: NewMessage,
    user: CurrentUser,
    token: BearerToken,
    gateway: GatewayDep,
    directory: Directory,
    key: IdempotencyKey,
) -> Response:
    peer = await directory.id_of(handle)
    if peer == user.id:
        raise Unprocessable("a conversation needs two people")
    sent = await gateway.dms.send(user, token, peer, body.text, key)
    gateway.reads.message_sent(user.id, peer, sent)
    return sent


@router.get("/dms/{handle}", response_model=Conversation, tags=["dms"], responses=PROBLEMS)
async def read_dms(
    handle: str,
    user: CurrentUser,
    token: BearerToken,
    gateway: GatewayDep,
    directory: Directory,
    after_seq: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = PAGE_DEFAULT,
) -> Response:
    peer = await directory.id_of(handle)
    dms = gateway.backends.dms
    return await gateway.reads.conversation(
        user.id, peer, after_seq, limit,
        lambda: dms.request(
            "GET", f"/internal/conversations/{peer}/messages", user_token=token,
            params={"after_seq": after_seq, "limit": limit},
        ),
    )  # fmt: skip


@router.get("/trends", response_model=Trends, tags=["trends"], responses=PROBLEMS)
async def trends(gateway: GatewayDep) -> Response:
    return await gateway.trends.read()
