"""An httpx transport over aiohttp's connection pool: callers keep httpx's API (and tests keep
`httpx.MockTransport`), while the sockets, the pool and the HTTP/1.1 parsing are aiohttp's.

Why: profiled under load (docs/performance.md), httpcore's pool spent a third of the gateway's
time per call (every request polls each pooled socket to see whether it expired). aiohttp's pool
hands out an idle connection in constant time and parses answers in C.

Why not the `httpx-aiohttp` package: it maps aiohttp's `ClientConnectionError`, the parent of a
refused connection, to `httpx.ConnectTimeout`, so a dead dependency would count as a slow one;
and it streams every body, where these bodies are small and read whole at once.

Errors come out as httpx's: a refused connection is `ConnectError`, a connect or read timeout is
`ConnectTimeout` / `ReadTimeout`, a reset or a broken answer `ReadError`.

`InternalClient` also takes a short road past httpx's client machinery (URL merging, auth and
redirect flows, cookies) for the plain calls services make of each other: measured, that
machinery cost more than the aiohttp call itself (bench.micro).
"""

from typing import Any
from urllib.parse import urlencode

import aiohttp
import httpx

KEEPALIVE_S = 15.0


class AiohttpTransport(httpx.AsyncBaseTransport):
    def __init__(self, max_connections: int, keepalive_s: float = KEEPALIVE_S) -> None:
        self.max_connections = max_connections
        self.keepalive_s = keepalive_s
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        # Made on first use: a ClientSession belongs to the event loop that is running.
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self.max_connections,
                keepalive_timeout=self.keepalive_s,
                # Resolve on every new connection, as httpx does: a container that comes back
                # with another address is reached at once, not after a cache's lifetime.
                use_dns_cache=False,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,  # httpx decodes, from the headers it is given
                cookie_jar=aiohttp.DummyCookieJar(),
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        headers = request.headers.multi_items()
        limits = request.extensions.get("timeout", {})
        return await self.exchange(request.method, str(request.url), headers, body, limits, request)

    async def exchange(
        self,
        method: str,
        url: str,
        headers: Any,
        body: bytes,
        limits: dict[str, float | None],
        request: httpx.Request | None = None,
    ) -> httpx.Response:
        """One call, answered whole, as an httpx.Response (with `request`, when given, attached
        to it and to the errors)."""
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=limits.get("pool"),
            sock_connect=limits.get("connect"),
            sock_read=limits.get("read"),
        )
        try:
            async with self._open().request(
                method,
                url,
                headers=headers,
                data=body or None,
                allow_redirects=False,
                timeout=timeout,
            ) as answer:
                content = await answer.read()
                status, raw, reason = answer.status, answer.raw_headers, answer.reason
        except aiohttp.ConnectionTimeoutError as exc:
            raise httpx.ConnectTimeout(str(exc), request=request) from exc
        except aiohttp.ServerTimeoutError as exc:
            raise httpx.ReadTimeout(str(exc), request=request) from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        except aiohttp.ClientError as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc
        extensions = {"http_version": b"HTTP/1.1", "reason_phrase": (reason or "").encode()}
        return httpx.Response(
            status, headers=raw, content=content, request=request, extensions=extensions
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class InternalClient(httpx.AsyncClient):
    """An httpx client over `AiohttpTransport`. A plain call (an absolute URL as a string, and
    at most params, headers, a JSON body and a timeout) goes straight to the transport; any
    other goes through httpx's usual machinery."""

    def __init__(self, max_connections: int, timeout: httpx.Timeout) -> None:
        self._aiohttp = AiohttpTransport(max_connections)
        super().__init__(transport=self._aiohttp, timeout=timeout)

    async def request(  # the same parameters as httpx's, the usual ones named
        self,
        method: str,
        url: httpx.URL | str,
        *,
        params: Any = None,
        headers: Any = None,
        json: Any = None,
        timeout: Any = httpx.USE_CLIENT_DEFAULT,  # noqa: ASYNC109 (httpx's own parameter)
        **others: Any,
    ) -> httpx.Response:
        if others or not isinstance(url, str):
            return await super().request(
                method, url, params=params, headers=headers, json=json, timeout=timeout, **others
            )
        limits = self.timeout if timeout is httpx.USE_CLIENT_DEFAULT else httpx.Timeout(timeout)
        target = _with_query(url, params) if json is None else None
        if target is not None and (headers is None or isinstance(headers, dict)):
            # The read path: no httpx.Request at all (its URL parsing was a tenth of the
            # gateway's time per read), the answer an httpx.Response without one.
            return await self._aiohttp.exchange(method, target, headers, b"", limits.as_dict())
        request = httpx.Request(
            method, url, params=params, headers=headers, json=json,
            extensions={"timeout": limits.as_dict()},
        )  # fmt: skip
        return await self._aiohttp.handle_async_request(request)


def _with_query(url: str, params: Any) -> str | None:
    """`url` with `params` (names and plain values: str, or int but not bool) as its query, as
    httpx writes it; None for anything else (httpx's own encoding then decides)."""
    if not params:
        return url
    if not isinstance(params, dict) or "?" in url or "#" in url:
        return None
    for value in params.values():
        if isinstance(value, bool) or not isinstance(value, str | int):
            return None
    return url + "?" + urlencode(params)
