"""The aiohttp transport under httpx: answers come through whole, and each way a dependency
fails comes out as the httpx error the resilient client classifies (refused, timeout, reset)."""

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest

from services.common import aiohttp_transport
from services.common.aiohttp_transport import AiohttpTransport, InternalClient, _with_query

pytestmark = pytest.mark.anyio

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def tcp_server(handler: Handler) -> AsyncIterator[str]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


async def _answer_json(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    request = await reader.readuntil(b"\r\n\r\n")
    length = int(next(
        (line.split(b":")[1] for line in request.split(b"\r\n")
         if line.lower().startswith(b"content-length")), b"0",
    ))  # fmt: skip
    body = await reader.readexactly(length)
    first_line = request.split(b"\r\n")[0]
    answer = b'{"echo": "%s", "body": %d}' % (first_line, len(body))
    writer.write(
        b"HTTP/1.1 201 Created\r\ncontent-type: application/json\r\nx-degraded: no\r\n"
        b"content-length: %d\r\n\r\n%s" % (len(answer), answer)
    )
    await writer.drain()
    writer.close()
    await writer.wait_closed()


def _client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=AiohttpTransport(8))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_answer_status_headers_and_body_come_through() -> None:
    async with tcp_server(_answer_json) as url, _client() as client:
        answer = await client.post(f"{url}/x", params={"a": 1}, json={"k": "v"})
    assert answer.status_code == 201
    assert answer.headers["x-degraded"] == "no"
    assert answer.json() == {"echo": "POST /x?a=1 HTTP/1.1", "body": len(b'{"k":"v"}')}
    assert answer.reason_phrase == "Created"


async def test_refused_connection_is_a_connect_error_not_a_timeout() -> None:
    async with _client() as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://127.0.0.1:{_closed_port()}/")


async def test_silent_server_is_a_read_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up and closes
        writer.close()
        await writer.wait_closed()

    async with tcp_server(silent) as url, _client() as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get(url, timeout=httpx.Timeout(0.2))


async def test_connection_closed_without_an_answer_is_a_read_error() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.close()
        await writer.wait_closed()

    async with tcp_server(hang_up) as url, _client() as client:
        with pytest.raises(httpx.ReadError):
            await client.get(url)


async def test_internal_client_sends_a_plain_call_whole() -> None:
    async with tcp_server(_answer_json) as url, InternalClient(8, httpx.Timeout(2.0)) as client:
        answer = await client.request(
            "POST", f"{url}/y", params={"b": 2}, headers={"x-k": "v"}, json={"a": [1]},
            timeout=httpx.Timeout(1.0),
        )  # fmt: skip
    assert answer.status_code == 201
    assert answer.json() == {"echo": "POST /y?b=2 HTTP/1.1", "body": len(b'{"a":[1]}')}
    assert answer.request.url == httpx.URL(f"{url}/y?b=2")


async def test_internal_client_takes_httpx_road_for_anything_else() -> None:
    async with tcp_server(_answer_json) as url, InternalClient(8, httpx.Timeout(2.0)) as client:
        answer = await client.request("GET", httpx.URL(url), follow_redirects=False)
    assert answer.status_code == 201
    assert answer.json()["echo"] == "GET / HTTP/1.1"


async def test_internal_client_timeouts_are_httpx_timeouts() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()
        await writer.wait_closed()

    async with tcp_server(silent) as url, InternalClient(8, httpx.Timeout(2.0)) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.request("GET", url, timeout=httpx.Timeout(0.2))


async def _echo_headers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    request = await reader.readuntil(b"\r\n\r\n")
    answer = request.split(b"\r\n\r\n")[0]
    writer.write(
        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: %d\r\n\r\n%s"
        % (len(answer), answer)
    )
    await writer.drain()
    writer.close()
    await writer.wait_closed()


async def test_a_plain_read_is_sent_without_an_httpx_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_request(*args: object, **kwargs: object) -> None:
        raise AssertionError("an httpx.Request was built for a plain read")

    monkeypatch.setattr(aiohttp_transport.httpx, "Request", no_request)
    async with tcp_server(_echo_headers) as url, InternalClient(8, httpx.Timeout(2.0)) as client:
        answer = await client.request(
            "GET", f"{url}/internal/timeline", params={"limit": 20, "before": 7},
            headers={"X-Failwhale-Service": "cred", "Authorization": "Bearer t"},
            timeout=httpx.Timeout(1.0),
        )  # fmt: skip
    lines = answer.text.split("\r\n")
    assert lines[0] == "GET /internal/timeline?limit=20&before=7 HTTP/1.1"
    assert "X-Failwhale-Service: cred" in lines and "Authorization: Bearer t" in lines
    assert answer.status_code == 200 and answer.reason_phrase == "OK"
    assert answer.headers["content-type"] == "text/plain"


async def test_a_plain_read_to_a_closed_port_is_a_connect_error() -> None:
    async with InternalClient(8, httpx.Timeout(2.0)) as client:
        with pytest.raises(httpx.ConnectError):
            await client.request("GET", f"http://127.0.0.1:{_closed_port()}/x", params={"a": 1})


@pytest.mark.parametrize(
    "params",
    [{"limit": 20, "before": 5}, {"q": "a b/c+d&e=f"}, {"q": "héllo #x"}, {"n": -3, "e": ""}],
)
def test_a_plain_query_is_written_as_httpx_writes_it(params: dict[str, object]) -> None:
    expected = str(httpx.Request("GET", "http://h:1/x", params=params).url)
    assert _with_query("http://h:1/x", params) == expected


@pytest.mark.parametrize(
    ("url", "params"),
    [("http://h/x", {"flag": True}), ("http://h/x", {"ids": [1, 2]}),
     ("http://h/x", {"none": None}), ("http://h/x?a=1", {"b": 2})],
)  # fmt: skip
def test_other_queries_are_left_to_httpx(url: str, params: dict[str, object]) -> None:
    assert _with_query(url, params) is None
