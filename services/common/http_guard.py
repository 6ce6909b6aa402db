"""The HTTP protocol every service is served with (`uvicorn --http
services.common.http_guard:GuardedHttpTools`): uvicorn's httptools protocol plus two limits it
lacks, enforced before the app sees anything.

- A request head (request line and headers) over `HEAD_MAX_BYTES` is refused with 431: uvicorn
  would otherwise buffer a header of any size.
- A request must arrive whole (head and body) within `REQUEST_READ_TIMEOUT_S` of its first byte,
  or of the connection's opening: a client that dribbles it (slowloris) or connects and says
  nothing is answered 408 (nothing, when it sent nothing) and disconnected, instead of holding a
  connection for ever. Time the app takes to answer does not count.
"""

import asyncio
from http import HTTPStatus

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from services.common.errors import PROBLEM_BASE, PROBLEM_JSON

HEAD_MAX_BYTES = 16 * 1024  # h11's default limit; a Chirp request head is well under 1 KiB
REQUEST_READ_TIMEOUT_S = 5.0  # head and body (64 KiB at most) sent from one host to another


def refusal(status: HTTPStatus, detail: str, slug: str) -> bytes:
    """A whole problem+json answer, as bytes on the wire, closing the connection."""
    body = orjson.dumps(
        {"type": PROBLEM_BASE + slug, "title": status.phrase, "status": status.value,
         "detail": detail}
    )  # fmt: skip
    head = (
        f"HTTP/1.1 {status.value} {status.phrase}\r\ncontent-type: {PROBLEM_JSON}\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


class GuardedHttpTools(HttpToolsProtocol):
    _head_bytes = 0  # of the current head: what the parser took in, and raw bytes received
    _raw_head_bytes = 0
    _in_head = False  # bytes arriving belong to a request head not yet complete
    _request_started = False  # some of the current request has arrived
    _head_too_large = False
    _read_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.transport.is_closing():
            return
        if self._in_head:
            # A head spread over many reads: the parser buffers it until it is complete, so
            # count what arrives (a pipelined request's tail in the same read may count too).
            self._raw_head_bytes += len(data)
        if self._head_too_large or self._raw_head_bytes > HEAD_MAX_BYTES:
            self._refuse(
                HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                f"request line and headers are limited to {HEAD_MAX_BYTES} bytes",
                "header-too-large",
            )

    def on_message_begin(self) -> None:
        if self._head_too_large:
            return
        super().on_message_begin()
        self._head_bytes = self._raw_head_bytes = 0
        self._in_head = True
        self._request_started = True
        self._arm()

    def on_url(self, url: bytes) -> None:
        self._head_bytes += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value) + 4  # ": " and CRLF
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        if self._head_bytes > HEAD_MAX_BYTES:
            # Refused once the parser returns (data_received); the app never sees it.
            self._head_too_large = True
            return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._head_too_large:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._head_too_large:
            return
        self._request_started = False
        self._disarm()
        super().on_message_complete()

    def _arm(self) -> None:
        if self._read_deadline is None:
            self._read_deadline = self.loop.call_later(REQUEST_READ_TIMEOUT_S, self._too_slow)

    def _disarm(self) -> None:
        if self._read_deadline is not None:
            self._read_deadline.cancel()
            self._read_deadline = None

    def _too_slow(self) -> None:
        self._read_deadline = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        answering = cycle is not None and cycle.response_started and not cycle.response_complete
        if not self._request_started or answering:
            self.transport.close()
            return
        self._refuse(
            HTTPStatus.REQUEST_TIMEOUT,
            f"the request did not arrive whole within {REQUEST_READ_TIMEOUT_S:g} s",
            "request-timeout",
        )

    def _refuse(self, status: HTTPStatus, detail: str, slug: str) -> None:
        self.transport.write(refusal(status, detail, slug))
        self.transport.close()
