"""The error tree shared by all services, and its one mapping to RFC 9457 problem+json answers.

    ChirpError
    ├── BadRequest            400
    ├── Unauthorized          401
    ├── Forbidden             403
    ├── NotFound              404
    ├── Conflict              409
    ├── PayloadTooLarge       413
    ├── Unprocessable         422
    ├── TooManyRequests       429
    ├── DependencyUnavailable 503 (with Retry-After)
    ├── Overloaded            503 (with Retry-After: the gateway shed the request)
    └── DeadlineExceeded      504 (the caller's budget was spent before any work)

Redis, httpx and token errors are translated into this tree where they happen (stores, clients,
auth); routes raise these and never build HTTP errors themselves.
"""

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

log = logging.getLogger("failwhale.errors")

PROBLEM_JSON = "application/problem+json"
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
PROBLEM_BASE = "https://failwhale.dev/problems/"


class ChirpError(Exception):
    status = 500
    title = "Internal error"
    slug = "internal"

    def __init__(self, detail: str = "", *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.headers = headers or {}


class BadRequest(ChirpError):
    status, title, slug = 400, "Bad request", "bad-request"


class Unauthorized(ChirpError):
    status, title, slug = 401, "Unauthorized", "unauthorized"

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(ChirpError):
    status, title, slug = 403, "Forbidden", "forbidden"


class NotFound(ChirpError):
    status, title, slug = 404, "Not found", "not-found"


class Conflict(ChirpError):
    status, title, slug = 409, "Conflict", "conflict"


class PayloadTooLarge(ChirpError):
    status, title, slug = 413, "Payload too large", "payload-too-large"


class Unprocessable(ChirpError):
    status, title, slug = 422, "Unprocessable content", "unprocessable"


class TooManyRequests(ChirpError):
    status, title, slug = 429, "Too many requests", "too-many-requests"

    def __init__(self, detail: str = "", retry_after_s: int = 1) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after_s))})


class DependencyUnavailable(ChirpError):
    status, title, slug = 503, "Dependency unavailable", "dependency-unavailable"

    def __init__(
        self, dependency: str, detail: str = "", retry_after_s: int = 1, reason: str = "error"
    ) -> None:
        super().__init__(
            detail or f"{dependency} is unavailable",
            headers={"Retry-After": str(max(1, retry_after_s))},
        )
        self.dependency = dependency
        # timeout, unreachable, error (5xx), breaker-open, bulkhead-full
        self.reason = reason


class Overloaded(ChirpError):
    status, title, slug = 503, "Overloaded", "overloaded"

    def __init__(self, detail: str = "", retry_after_s: int = 1) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after_s))})


class DeadlineExceeded(ChirpError):
    status, title, slug = 504, "Deadline exceeded", "deadline-exceeded"


_BY_STATUS: dict[int, type[ChirpError]] = {
    cls.status: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        PayloadTooLarge,
        Unprocessable,
        TooManyRequests,
    )
}


def error_for_status(status: int, detail: str) -> ChirpError:
    """The error a downstream 4xx answer stands for, so it reaches the user unchanged."""
    cls = _BY_STATUS.get(status, BadRequest)
    return Unauthorized(detail) if cls is Unauthorized else cls(detail)


def problem_response(
    status: int,
    title: str,
    detail: str,
    slug: str,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if extra:
        body.update(extra)
    return Response(
        orjson.dumps(body), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


def _validation_detail(exc: RequestValidationError) -> tuple[str, list[dict[str, Any]]]:
    errors = []
    for err in exc.errors():
        loc = ".".join(str(part) for part in err.get("loc", ()))
        errors.append({"loc": loc, "msg": str(err.get("msg", "")), "type": err.get("type", "")})
    summary = "; ".join(f"{e['loc']}: {e['msg']}" for e in errors[:5]) or "invalid request"
    return summary, errors


def install_error_handlers(app: FastAPI) -> None:
    """Every error of a service leaves as problem+json; nothing else reaches the user."""

    async def on_chirp_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, ChirpError)
        return problem_response(exc.status, exc.title, exc.detail, exc.slug, exc.headers)

    async def on_validation_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        detail, errors = _validation_detail(exc)
        return problem_response(
            422, Unprocessable.title, detail, Unprocessable.slug, extra={"errors": errors}
        )

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if isinstance(exc.__cause__, RecursionError):
            # FastAPI answers 400 for any body its JSON parser gave up on; nesting deeper than
            # the parser descends is well-formed JSON Chirp cannot accept: invalid content.
            return problem_response(
                422, Unprocessable.title, "the JSON body is nested too deeply", Unprocessable.slug
            )
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names only the methods of the first route that matched the path; a
            # path served by several routes (GET and POST /v1/dms/{handle}) allows them all.
            headers["Allow"] = ", ".join(_methods_allowed(request)) or headers.get("Allow", "")
        return problem_response(
            exc.status_code,
            _title_for(exc.status_code),
            str(exc.detail),
            "http-" + str(exc.status_code),
            headers,
        )

    async def on_unexpected_error(_: Request, exc: Exception) -> Response:
        log.error("unexpected error", exc_info=exc)
        return problem_response(
            500, ChirpError.title, "an unexpected error happened; it has been logged", "internal"
        )

    app.add_exception_handler(Exception, on_unexpected_error)
    app.add_exception_handler(ChirpError, on_chirp_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)


def _methods_allowed(request: Request) -> list[str]:
    """Every method some route serves at the request's path. Asked of the routes themselves
    (`matches`), as the router does: included routers hide their routes from a plain listing."""
    allowed = []
    for method in METHODS:
        scope = dict(request.scope, method=method)
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed


def _title_for(status: int) -> str:
    cls = _BY_STATUS.get(status)
    if cls:
        return cls.title
    return {405: "Method not allowed", 406: "Not acceptable", 415: "Unsupported media type"}.get(
        status, "Error"
    )
