"""Passing a service's answer on to the user unchanged: the body is already in public form."""

import httpx
from starlette.responses import Response

PASSED_HEADERS = ("Idempotent-Replayed", "X-Degraded")


def relay(answer: httpx.Response, status: int | None = None) -> Response:
    headers = {name: answer.headers[name] for name in PASSED_HEADERS if name in answer.headers}
    return Response(
        content=answer.content,
        status_code=status or answer.status_code,
        headers=headers,
        media_type=answer.headers.get("content-type", "application/json"),
    )
