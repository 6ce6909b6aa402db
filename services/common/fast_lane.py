"""The fast lane: a few hot GET routes served in front of the service's FastAPI app, past its
routing and dependency solving: timeline's internal `GET /internal/timeline` (the gateway's
home-timeline read) and the gateway's public `GET /v1/timeline`.

A request that takes the lane pays for what it needs: its user token verified, and for an
internal lane its service credential too (each verified once per process, then only its expiry
checked: services.common.auth), its query read into plain ints, then the same ASGI layers the
app runs around its routes (the gateway's admission control, the chaos fault hook, the request
metrics under the same route label, the caller's deadline) and the route's own function.
Nothing else.

The lane only takes requests it can answer exactly as the app would: a GET with no body, one
bearer user token (and one service credential, for an internal lane) that verify, a query of
plain decimal numbers in range. Anything else (a bad or missing credential, a query to refuse,
a body, another method) goes to the whole app, unchanged, which answers it as it always has
(401, 422 problem+json, 405, 413): the lane decides before it runs anything, so no request is
half served by both. Errors raised while serving (a Redis outage, a ChirpError) are answered by
the app's own exception handlers, so they leave in the same problem+json.
"""

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from services.common.auth import SERVICE_HEADER, TokenKeys, User, verify_service_token
from services.common.auth import verify_user_token as verify_user
from services.common.errors import ChirpError
from services.common.limits import PAGE_DEFAULT, PAGE_MAX

# What a lane's query parser gets (each name once, values undecoded) and gives: the handler's
# arguments, or None to leave the request to the whole app.
Query = Mapping[str, str]
Parser = Callable[[Query], tuple[Any, ...] | None]
# The handler: the app's state, the verified user, their raw token (forwarded on the calls made
# on their behalf), the parsed arguments -> the answer.
Handler = Callable[[Any, User, str, tuple[Any, ...]], Awaitable[Response]]
Layer = Callable[[ASGIApp], ASGIApp]

_AUTHORIZATION = b"authorization"
_SERVICE = SERVICE_HEADER.lower().encode()
_BODY_HEADERS = (b"content-length", b"transfer-encoding")
MAX_QUERY_NUMBER_DIGITS = 19  # 2**63 - 1 has 19: longer ones the app judges
_LANE = "failwhale.lane"  # the scope key of an admitted request's lane, user and arguments


@dataclass(frozen=True)
class Lane:
    path: str  # the full path, prefix included
    parse: Parser
    handler: Handler
    route: BaseRoute  # the FastAPI route it stands in for (its path labels the metrics)
    internal: bool = True  # a service credential is needed beside the user's token


class LaneRouter(APIRouter):
    """An APIRouter whose routes may also have a fast lane (`lane`). The FastAPI route stays
    the reference: the OpenAPI, every refusal and every request the lane does not take."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lanes: list[Lane] = []

    def lane(self, path: str, parse: Parser, handler: Handler, *, internal: bool = True) -> None:
        """A fast lane for `GET <prefix><path>`, which must be a GET route of this router.
        `internal`: the route takes a service credential (InternalCaller) beside the user's
        token; a public route (internal=False) takes the user's token alone."""
        full = self.prefix + path
        for route in self.routes:
            if getattr(route, "path", None) == full and "GET" in getattr(route, "methods", ()):
                self.lanes.append(Lane(full, parse, handler, route, internal))
                return
        raise ValueError(f"a fast lane needs a GET route of its own: {full}")


def decimal_query(query: Query, name: str, low: int, high: int, default: int | None) -> int | None:
    """`name` as a whole number in [low, high], `default` when absent; raises ValueError when
    the lane should leave the request to the app (not plain digits, out of range)."""
    raw = query.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > MAX_QUERY_NUMBER_DIGITS:
        raise ValueError(name)
    value = int(raw)
    if not low <= value <= high:
        raise ValueError(name)
    return value


def page_query(query: Query) -> tuple[int, int | None]:
    """`limit` and `before` as services.common.paging's LimitQuery and BeforeQuery take them
    (ValueError: not plain, in-range numbers; the route then answers)."""
    limit = decimal_query(query, "limit", 1, PAGE_MAX, PAGE_DEFAULT)
    assert limit is not None
    return limit, decimal_query(query, "before", 1, 2**63 - 1, None)


def _query(raw: bytes) -> dict[str, str] | None:
    """The query's names and values; None when one needs decoding or comes twice (the app's
    own parsing decides those)."""
    if not raw:
        return {}
    if b"%" in raw or b"+" in raw:
        return None
    found: dict[str, str] = {}
    for part in raw.decode("latin-1").split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        if name in found:
            return None
        found[name] = value
    return found


class FastLanes:
    """The lanes of one app. `layers` wraps the lanes' one endpoint in the ASGI layers the app
    runs around its routes (built once: they keep per-series caches); `wrap` adds one the app
    puts in front of them all later (the gateway's admission control)."""

    def __init__(
        self,
        app: FastAPI,
        lanes: list[Lane],
        keys: TokenKeys,
        layers: Layer = lambda endpoint: endpoint,
    ) -> None:
        self.app = app
        self.keys = keys
        self.lanes = {lane.path: lane for lane in lanes}
        self._layered = layers(self._endpoint)

    def wrap(self, layer: Layer) -> None:
        """Runs `layer` in front of the lanes' layers, as the app's outermost middleware runs in
        front of its stack."""
        self._layered = layer(self._layered)

    def admit(self, scope: Scope) -> Scope | None:
        """The request's scope, ready for `serve`, if the lane answers it; None: the whole app
        answers it."""
        lane = self.lanes.get(scope["path"])
        if lane is None or scope["method"] != "GET":
            return None
        authorization = service = None
        for name, value in scope["headers"]:
            if name == _AUTHORIZATION:
                if authorization is not None:
                    return None  # sent twice: the app decides which one it reads
                authorization = value
            elif name == _SERVICE:
                if service is not None:
                    return None
                service = value
            elif name in _BODY_HEADERS and value != b"0":
                return None
        caller = self._verified(authorization, service, lane.internal)
        query = _query(scope["query_string"])
        if caller is None or query is None:
            return None
        try:
            args = lane.parse(query)
        except ValueError:
            return None
        if args is None:
            return None
        scope["app"] = self.app
        scope["route"] = lane.route  # the route label the request metrics use
        scope[_LANE] = (lane, *caller, args)
        return scope

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answers a request `admit` took."""
        await self._layered(scope, receive, send)

    def _verified(
        self, authorization: bytes | None, service: bytes | None, internal: bool
    ) -> tuple[User, str] | None:
        """The user and their token, as the app's bearer scheme reads them, if the token (and
        for an internal lane the service credential) verifies."""
        if authorization is None or (internal and service is None):
            return None
        scheme, _, token = authorization.decode("latin-1").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        try:
            if internal:
                assert service is not None
                verify_service_token(self.keys, service.decode("latin-1"))
            return verify_user(self.keys, token), token
        except ChirpError:
            return None

    async def _endpoint(self, scope: Scope, receive: Receive, send: Send) -> None:
        lane, user, token, args = scope[_LANE]
        try:
            response = await lane.handler(self.app.state, user, token, args)
        except Exception as exc:  # answered by the app's own handlers
            response = await self._handled(scope, exc)
        await response(scope, receive, send)

    async def _handled(self, scope: Scope, exc: Exception) -> Response:
        """The answer the app's exception handlers give `exc` (the most specific class first,
        as Starlette looks them up)."""
        handlers = self.app.exception_handlers
        for cls in type(exc).__mro__:
            handler = handlers.get(cls)
            if handler is not None:
                answer = handler(Request(scope), exc)
                answer = await answer if inspect.isawaitable(answer) else answer
                assert isinstance(answer, Response)
                return answer
        raise exc
