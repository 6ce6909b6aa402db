"""The services' HTTP protocol refuses oversized request heads (431) and clients that do not send
their request in time (408, or a silent close when they sent nothing), and leaves honest
requests, keep-alive included, alone. A real uvicorn server in a thread, on a free port."""

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from services.common import http_guard

READ_TIMEOUT_S = 0.5


async def echo_length(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    answer = json.dumps({"received": len(body)}).encode()
    length = [(b"content-length", str(len(answer)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": length})
    await send({"type": "http.response.body", "body": answer})


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        echo_length, http=http_guard.GuardedHttpTools, lifespan="off", log_level="critical"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(http_guard, "REQUEST_READ_TIMEOUT_S", READ_TIMEOUT_S)
        thread.start()
        deadline = time.monotonic() + 5
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        try:
            yield listener.getsockname()[1]
        finally:
            server.should_exit = True
            thread.join(5)
            listener.close()


def head(path: str = "/", extra: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: test\r\n{extra}\r\n".encode()


def answer_to(port: int, *pieces: bytes, pause_s: float = 0.0) -> tuple[int | None, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        for piece in pieces:
            try:
                sock.sendall(piece)
            except OSError:
                break
            time.sleep(pause_s)
        received = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):  # the server closes: every answer here says so
                received += chunk
    if not received:
        return None, b""
    return int(received.split()[1]), received.split(b"\r\n\r\n", 1)[1]


def test_an_ordinary_request_is_served(port: int) -> None:
    assert answer_to(port, head(extra="Connection: close\r\n")) == (200, b'{"received": 0}')


def test_a_head_over_the_limit_is_a_431_problem_in_one_read(port: int) -> None:
    status, body = answer_to(port, head(extra=f"X-Padding: {'a' * 20_000}\r\n"))
    assert status == 431
    assert json.loads(body)["type"].endswith("/header-too-large")


def test_a_head_over_the_limit_is_refused_before_it_ends(port: int) -> None:
    start = b"GET / HTTP/1.1\r\nHost: test\r\nX-Padding: "
    status, _ = answer_to(port, start, *[b"a" * 8192] * 200)
    assert status == 431


def test_headers_dribbled_past_the_deadline_get_a_408(port: int) -> None:
    started = time.monotonic()
    request = head()
    status, body = answer_to(port, *[request[i : i + 1] for i in range(len(request))], pause_s=0.1)
    assert status == 408
    assert json.loads(body)["status"] == 408
    assert time.monotonic() - started < READ_TIMEOUT_S + 1.5


def test_a_body_dribbled_past_the_deadline_gets_a_408(port: int) -> None:
    request = b"POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\n"
    status, _ = answer_to(port, request, *[b"x"] * 100, pause_s=0.1)
    assert status == 408


def test_a_connection_that_sends_nothing_is_closed_without_an_answer(port: int) -> None:
    assert answer_to(port) == (None, b"")


def test_keep_alive_requests_far_apart_are_each_served(port: int) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        for _ in range(2):
            assert client.get("/").status_code == 200
            time.sleep(READ_TIMEOUT_S * 1.5)  # longer than the read deadline, between requests
