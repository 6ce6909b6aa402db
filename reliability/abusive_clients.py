"""Requests no honest client sends, over raw sockets so that nothing tidies them up on the way:
oversized bodies and headers, deeply nested JSON, absurd query values, and slow clients that
dribble their headers or body a byte at a time. Each ends with what the server did."""

import select
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

SOCKET_TIMEOUT_S = 10.0
CHUNK = 64 * 1024
TEN_MB = 10 * 1024 * 1024
NESTING = 20_000  # far deeper than any parser's recursion limit, still under the 64 KiB limit


@dataclass(frozen=True)
class Exchange:
    """How one abusive request ended: `status` when the server answered, else None; `ended`
    is "answered", "closed" (by the server, without an answer) or "held" (still open when the
    client gave up)."""

    status: int | None
    ended: str
    seconds: float


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    token: str


def request_head(
    target: Target, method: str, path: str, extra: dict[str, str] | None = None
) -> bytes:
    headers = {"Host": f"{target.host}:{target.port}", "Authorization": f"Bearer {target.token}"}
    headers |= extra or {}
    lines = [f"{method} {path} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    return "\r\n".join(lines).encode("latin-1")


def _status(received: bytes) -> int | None:
    line = received.split(b"\r\n", 1)[0].split()
    return int(line[1]) if len(line) >= 2 and line[1].isdigit() else None


def _read_status(sock: socket.socket, deadline: float) -> tuple[int | None, str]:
    received = b""
    while b"\r\n" not in received:
        left = deadline - time.monotonic()
        if left <= 0:
            return None, "held"
        sock.settimeout(left)
        try:
            data = sock.recv(4096)
        except TimeoutError:
            return None, "held"
        except OSError:
            break
        if not data:
            break
        received += data
    status = _status(received)
    return status, "answered" if status is not None else "closed"


def exchange(
    target: Target,
    at_once: bytes,
    dribbled: bytes = b"",
    *,
    pace_s: float = 0.0,
    give_up_s: float = SOCKET_TIMEOUT_S,
) -> Exchange:
    """Sends `at_once`, then `dribbled` (in big chunks, or a byte every `pace_s` seconds) and
    reads the status line. Like a careful client it stops sending as soon as the server has
    answered, and still reads the answer when the server closed the connection early."""
    started = time.monotonic()
    deadline = started + give_up_s
    step = 1 if pace_s else CHUNK
    with socket.create_connection((target.host, target.port), timeout=SOCKET_TIMEOUT_S) as sock:
        try:
            sock.sendall(at_once)
            sent = 0
            while sent < len(dribbled) and time.monotonic() < deadline:
                # Waiting for an answer is also the pause between two bytes.
                if select.select([sock], [], [], pace_s)[0]:
                    break  # the server answered (or closed) before the request was complete
                sock.sendall(dribbled[sent : sent + step])
                sent += step
        except OSError:
            pass  # reset while sending: the answer may still be there to read
        status, ended = _read_status(sock, deadline)
    return Exchange(status, ended, time.monotonic() - started)


def chunked(body: bytes) -> bytes:
    parts = [body[i : i + CHUNK] for i in range(0, len(body), CHUNK)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


JSON = {"Content-Type": "application/json"}


def one_shot_abuses(target: Target) -> dict[str, tuple[Callable[[], Exchange], set[int]]]:
    """Each abusive request, with the answers that fit it (and never a 5xx)."""
    big = b'{"text":"' + b"a" * TEN_MB + b'"}'
    arrays = b'{"text":' + b"[" * NESTING + b"]" * NESTING + b"}"
    objects = b'{"text":' + b'{"a":' * (NESTING // 5) + b"1" + b"}" * (NESTING // 5) + b"}"

    def post(body: bytes, extra: dict[str, str]) -> Callable[[], Exchange]:
        return lambda: exchange(target, request_head(target, "POST", "/v1/posts", extra), body)

    def get(path: str, extra: dict[str, str] | None = None) -> Callable[[], Exchange]:
        return lambda: exchange(target, request_head(target, "GET", path, extra))

    return {
        "10 MB body": (post(big, JSON | {"Content-Length": str(len(big))}), {413}),
        "10 MB body, chunked": (post(chunked(big), JSON | {"Transfer-Encoding": "chunked"}), {413}),
        "understated length": (post(big, JSON | {"Content-Length": "20"}), {400, 422}),
        "nested arrays": (post(arrays, JSON | {"Content-Length": str(len(arrays))}), {422}),
        "nested objects": (post(objects, JSON | {"Content-Length": str(len(objects))}), {422}),
        "huge limit": (get("/v1/timeline?limit=" + "9" * 40), {422}),
        "negative limit": (get("/v1/timeline?limit=-1"), {422}),
        "5000-digit limit": (get("/v1/timeline?limit=" + "9" * 5000), {422}),
        "huge before": (get("/v1/timeline?before=" + "9" * 40), {200, 422}),
        "huge post id": (get("/v1/posts/" + "9" * 40), {404, 422}),
        "1 MB header": (get("/v1/timeline", {"X-Padding": "a" * 1024 * 1024}), {431}),
        "10 KB path": (get("/v1/users/" + "a" * 10_000 + "/posts"), {404, 414}),
    }  # fmt: skip


def slow_headers(target: Target, pace_s: float, give_up_s: float) -> Exchange:
    """Slowloris: the request line and headers, one byte every `pace_s` seconds."""
    head = request_head(target, "GET", "/v1/timeline")
    return exchange(target, b"", head, pace_s=pace_s, give_up_s=give_up_s)


def slow_body(target: Target, pace_s: float, give_up_s: float) -> Exchange:
    """Headers at once, then a small body one byte every `pace_s` seconds."""
    body = b'{"text":"' + b"s" * 200 + b'"}'
    head = request_head(target, "POST", "/v1/posts", JSON | {"Content-Length": str(len(body))})
    return exchange(target, head, body, pace_s=pace_s, give_up_s=give_up_s)
