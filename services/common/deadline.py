"""Deadlines that travel with a request: how much of its caller's patience is left.

The gateway gives each request it admits a budget (`FAILWHALE_GATEWAY_REQUEST_BUDGET_S`) from
the moment it arrives; every call it makes downstream carries the part still left in
`X-Failwhale-Deadline-Ms` (milliseconds, relative: no clock is shared between hosts), and each
attempt's timeout is capped by it. A service receiving a request whose budget is spent answers
504 problem+json at once, without working on it: its caller has stopped waiting.

A header that is not a number of milliseconds (or is NaN or infinite) is ignored: the header is
an optimisation between Chirp's own services, and a caller that sends a broken one still gets
its answer, within the service's own timeouts. A budget above `MAX_BUDGET_MS` is capped to it.
The budget lives in a context variable, so it reaches the calls a request makes without being
passed through every function.
"""

import asyncio
import math
from contextvars import ContextVar, Token

from starlette.types import ASGIApp, Receive, Scope, Send

from services.common.errors import DeadlineExceeded, DependencyUnavailable, problem_response

HEADER = "X-Failwhale-Deadline-Ms"
HEADER_KEY = HEADER.lower().encode()
MAX_BUDGET_MS = 60_000.0

# When the current request's budget runs out, in the event loop's clock; None: no deadline.
_expires_at: ContextVar[float | None] = ContextVar("failwhale_deadline", default=None)


def parse_budget_ms(raw: str | bytes | None) -> float | None:
    """The budget a header value gives, in ms (0 or less: spent); None when absent or broken."""
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    if not math.isfinite(value):
        return None
    return min(value, MAX_BUDGET_MS)


def budget_in(headers: list[tuple[bytes, bytes]]) -> float | None:
    """The budget an ASGI request's raw headers carry, in ms."""
    for name, value in headers:
        if name == HEADER_KEY:
            return parse_budget_ms(value)
    return None


def remaining_s() -> float | None:
    """What is left of the current request's budget, in seconds; None without a deadline."""
    expires_at = _expires_at.get()
    if expires_at is None:
        return None
    return expires_at - asyncio.get_running_loop().time()


def start(budget_s: float) -> Token[float | None]:
    """Gives the current request a deadline `budget_s` from now, or keeps an earlier one it
    already has. Returns the token that `end` takes."""
    expires_at = asyncio.get_running_loop().time() + budget_s
    current = _expires_at.get()
    return _expires_at.set(expires_at if current is None else min(current, expires_at))


def end(token: Token[float | None]) -> None:
    _expires_at.reset(token)


def refuse_if_spent(dependency: str) -> None:
    """Raises DependencyUnavailable (reason `timeout`, as if the call had timed out: fallbacks
    treat it so) when the current request's budget is spent: the call is not made."""
    left = remaining_s()
    if left is not None and left <= 0:
        raise DependencyUnavailable(
            dependency, f"no time is left to call {dependency}", reason="timeout"
        )


def stamped(
    headers: dict[str, str], dependency: str, call_timeout_s: float | None = None
) -> dict[str, str]:
    """The headers of a call, with its budget added when the request has a deadline: what is
    left of the request's, or the call's own timeout if that is sooner (the caller gives up on
    the call then). `refuse_if_spent` when nothing is left."""
    left = remaining_s()
    if left is None:
        return headers
    refuse_if_spent(dependency)
    if call_timeout_s is not None:
        left = min(left, call_timeout_s)
    return headers | {HEADER: str(max(1, int(left * 1000)))}


def capped(deadline: float) -> float:
    """`deadline` (event-loop time), brought forward to the request's own if that is sooner."""
    expires_at = _expires_at.get()
    return deadline if expires_at is None else min(deadline, expires_at)


async def refuse_spent(scope: Scope, receive: Receive, send: Send) -> None:
    """The 504 answer to a request whose caller's budget is spent."""
    response = problem_response(
        DeadlineExceeded.status,
        DeadlineExceeded.title,
        "the caller's deadline passed before the request could be worked on",
        DeadlineExceeded.slug,
    )
    await response(scope, receive, send)


class Deadlines:
    """ASGI middleware: a request carrying `X-Failwhale-Deadline-Ms` runs with that deadline
    (its downstream calls carry what is left), and one whose budget is spent is refused with
    504 before anything else works on it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        budget_ms = budget_in(scope["headers"])
        if budget_ms is None:
            await self.app(scope, receive, send)
            return
        token = start(budget_ms / 1000)
        try:
            left = remaining_s()
            if left is not None and left <= 0:
                await refuse_spent(scope, receive, send)
                return
            await self.app(scope, receive, send)
        finally:
            end(token)
