"""The 64 KiB request body limit: declared and streamed bodies, just under and just over."""

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel
from starlette.types import Message, Scope

from services.common.body_limit import MAX_BODY_BYTES, BodySizeLimit
from services.common.service_app import build_service_app
from services.common.settings import ServiceSettings
from tests.unit.problems import assert_problem
from tests.unit.stack_keys import SECRETS

pytestmark = pytest.mark.anyio


class Note(BaseModel):
    text: str


def json_body(size: int) -> bytes:
    """A JSON object `{"text": "xxx..."}` of exactly `size` bytes."""
    frame = len(b'{"text":""}')
    return b'{"text":"' + b"x" * (size - frame) + b'"}'


@pytest.fixture
def seen() -> list[int]:
    return []


@pytest.fixture
def app(seen: list[int]) -> FastAPI:
    router = APIRouter()

    @router.post("/notes")
    async def create(note: Note) -> dict[str, int]:
        seen.append(len(note.text))
        return {"length": len(note.text)}

    return build_service_app(
        ServiceSettings(**SECRETS), title="t", description="t", routers=[router]
    )


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        yield client


def chunks(body: bytes, size: int = 4096) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def streamed(body: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks(body):
        yield chunk


JSON = {"content-type": "application/json"}


async def test_declared_body_of_exactly_64_kib_is_accepted(
    client: httpx.AsyncClient, seen: list[int]
) -> None:
    body = json_body(MAX_BODY_BYTES)
    answer = await client.post("/notes", content=body, headers=JSON)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"length": MAX_BODY_BYTES - 11}
    assert seen == [MAX_BODY_BYTES - 11]


async def test_declared_body_one_byte_over_is_refused_with_413_before_the_route(
    client: httpx.AsyncClient, seen: list[int]
) -> None:
    answer = await client.post("/notes", content=json_body(MAX_BODY_BYTES + 1), headers=JSON)
    body = assert_problem(answer, 413, "payload-too-large")
    assert str(MAX_BODY_BYTES) in str(body["detail"])
    assert answer.headers["connection"] == "close"
    assert seen == []


async def test_streamed_body_under_the_limit_is_accepted(
    client: httpx.AsyncClient, seen: list[int]
) -> None:
    answer = await client.post("/notes", content=streamed(json_body(1000)), headers=JSON)
    assert answer.status_code == 200, answer.text
    assert seen == [1000 - 11]


async def test_streamed_body_over_the_limit_is_refused_with_413(
    client: httpx.AsyncClient, seen: list[int]
) -> None:
    body = json_body(MAX_BODY_BYTES + 4096)
    answer = await client.post("/notes", content=streamed(body), headers=JSON)
    assert_problem(answer, 413)
    assert seen == []


# The middleware alone, driven with raw ASGI messages: what a client that lies or streams sends.


async def drive(
    headers: list[tuple[bytes, bytes]], parts: list[bytes], max_bytes: int = 100
) -> tuple[list[Message], list[int]]:
    bodies_read: list[int] = []

    async def inner(scope: Scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        total = 0
        while True:
            message = await receive()
            total += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        bodies_read.append(total)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    incoming = [
        {"type": "http.request", "body": part, "more_body": i < len(parts) - 1}
        for i, part in enumerate(parts)
    ]

    async def receive() -> Message:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    await BodySizeLimit(inner, max_bytes=max_bytes)(scope, receive, send)
    return sent, bodies_read


async def test_middleware_passes_a_chunked_body_at_the_limit_untouched() -> None:
    sent, read = await drive([], [b"x" * 60, b"x" * 40])
    assert sent[0]["status"] == 200
    assert read == [100]


async def test_middleware_stops_a_chunked_body_as_soon_as_it_passes_the_limit() -> None:
    sent, read = await drive([], [b"x" * 60, b"x" * 41, b"x" * 1000])
    assert sent[0]["status"] == 413
    assert read == []  # the app never got the whole body


@pytest.mark.parametrize("declared", [b"abc", b"-1", b"1e3"])
async def test_middleware_refuses_a_content_length_that_is_not_a_number(declared: bytes) -> None:
    sent, read = await drive([(b"content-length", declared)], [b"x"])
    assert sent[0]["status"] == 413
    assert read == []


async def test_middleware_leaves_non_http_scopes_alone() -> None:
    calls: list[str] = []

    async def inner(scope: Scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        calls.append(scope["type"])

    await BodySizeLimit(inner, max_bytes=1)({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    assert calls == ["lifespan"]
