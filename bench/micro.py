"""The per-request pieces the gateway's profile pointed at, each measured alone, before and
after its change: CPU microseconds per operation (process time, not wall time, so that the
machine's other work weighs little), median of a few rounds, the two forms alternating.

    .venv/bin/python -m bench.micro [--rounds 3]

- http client: one GET through httpx (its own httpcore pool), through httpx over aiohttp's pool
  (services.common.aiohttp_transport), through the services' InternalClient (that transport,
  past httpx's client machinery), and through aiohttp alone, 32 at a time, to a local app;
- token: verifying a user token with PyJWT each time, and with the verified-token cache;
- page: a page of 20 posts as pydantic models serialised, and written with orjson;
- metrics: `labels(...).inc()` on each call, and the series looked up once;
- dependency: a FastAPI route with a plain `def` dependency (run in a worker thread) and with
  an `async def` one, called in process;
- internal route: timeline's `GET /internal/timeline` called in process (a page always ready,
  no Redis) through its FastAPI app and through its fast lane (services.common.fast_lane);
- public route: the gateway's `GET /v1/timeline` the same way (admission control on, a page
  always ready, no replica), through its FastAPI app and through its fast lane.

The http client piece also measures the services' client as it was before it stopped building
an httpx.Request per call (`internal_client_with_request`).
"""

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import orjson
import uvloop
from fastapi import Depends, FastAPI, Request
from prometheus_client import CollectorRegistry, Counter
from starlette.responses import Response

from services.common import auth
from services.common.aiohttp_transport import AiohttpTransport, InternalClient
from services.common.auth import (
    SERVICE_HEADER,
    TokenKeys,
    User,
    issue_service_token,
    issue_user_token,
    verify_user_token,
)
from services.common.metrics import ServiceMetrics
from services.common.paging import post_page, post_page_response
from services.common.service_app import ServiceApp, build_service_app
from services.common.settings import ServiceSettings
from services.gateway.app import create_app as create_gateway_app
from services.gateway.settings import GatewaySettings
from services.timeline.home import HomePage
from services.timeline.routes import router as timeline_router

REPO = Path(__file__).resolve().parents[1]
PAGE_BODY = b'{"items":[],"next":null}' * 40


def echo_app() -> FastAPI:
    """The far side of the HTTP client measurement: answers a page-sized body at once."""
    app = FastAPI()

    @app.get("/internal/timeline")
    async def page() -> Response:
        return Response(PAGE_BODY, media_type="application/json")

    return app


def cpu_us(operation: Callable[[], object], n: int) -> float:
    began = time.process_time()
    for _ in range(n):
        operation()
    return (time.process_time() - began) / n * 1e6


async def _clients(url: str, n: int = 2000, concurrency: int = 32) -> dict[str, float]:
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    headers = {"x-failwhale-service": "t", "authorization": "Bearer x"}
    params = {"limit": "20"}

    async def timed(call: Callable[[], Awaitable[object]]) -> float:
        slots = asyncio.Semaphore(concurrency)

        async def one() -> None:
            async with slots:
                await call()

        await asyncio.gather(*(one() for _ in range(200)))  # warm the pool
        began = time.process_time()
        await asyncio.gather(*(one() for _ in range(n)))
        return (time.process_time() - began) / n * 1e6

    figures = {}
    clients = (
        ("httpx", httpx.AsyncClient(limits=limits)),
        ("httpx_over_aiohttp", httpx.AsyncClient(transport=AiohttpTransport(256))),
        ("internal_client", InternalClient(256, httpx.Timeout(5.0))),
    )
    for name, http in clients:
        async with http as client:

            async def via_httpx(client: httpx.AsyncClient = client) -> object:
                # `request`, as Downstream calls it (`get` passes httpx's other arguments too).
                answer = await client.request("GET", url, params=params, headers=headers)
                return answer.content

            figures[name] = await timed(via_httpx)
            if isinstance(client, InternalClient):
                transport = client._aiohttp

                async def with_request(transport: AiohttpTransport = transport) -> object:
                    # The short road before it left httpx.Request out (ae3129b to c551d33).
                    request = httpx.Request(
                        "GET", url, params=params, headers=headers,
                        extensions={"timeout": httpx.Timeout(5.0).as_dict()},
                    )  # fmt: skip
                    return (await transport.handle_async_request(request)).content

                figures["internal_client_with_request"] = await timed(with_request)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256)) as session:

        async def via_aiohttp() -> object:
            async with session.get(url, params=params, headers=headers) as answer:
                return await answer.read()

        figures["aiohttp"] = await timed(via_aiohttp)
    return figures


def http_client(rounds: int) -> dict[str, list[float]]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "uvicorn", "bench.micro:echo_app", "--factory", "--port",
               str(port), "--no-access-log", "--log-level", "warning"]  # fmt: skip
    server = subprocess.Popen(command, cwd=REPO)
    runs: dict[str, list[float]] = {}
    try:
        url = f"http://127.0.0.1:{port}/internal/timeline"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        for _ in range(rounds):
            for name, value in uvloop.run(_clients(url)).items():
                runs.setdefault(name, []).append(value)
    finally:
        server.terminate()
        server.wait(timeout=10)
    return runs


def token(rounds: int) -> dict[str, list[float]]:
    keys = TokenKeys("u" * 64, "i" * 64)
    signed = issue_user_token(keys, User(7, "alice"))
    uncached = auth._verified.__wrapped__
    runs: dict[str, list[float]] = {"pyjwt_each_time": [], "cached": []}
    for _ in range(rounds):
        runs["pyjwt_each_time"].append(
            cpu_us(lambda: uncached(signed, keys.user_secret, auth.USER_AUDIENCE), 5000)
        )
        runs["cached"].append(cpu_us(lambda: verify_user_token(keys, signed), 5000))
    return runs


def page(rounds: int) -> dict[str, list[float]]:
    records = [
        orjson.dumps({"id": 1_800_000_000_000_000 - n, "author_id": 3, "author": "alice",
                      "text": f"post {n} #chirp " * 4, "created_ms": 1_757_000_000_000 + n}
                     ).decode()
        for n in range(21)
    ]  # fmt: skip
    runs: dict[str, list[float]] = {"pydantic": [], "orjson": []}
    for _ in range(rounds):
        runs["pydantic"].append(cpu_us(lambda: post_page(records, 20).model_dump_json(), 2000))
        runs["orjson"].append(cpu_us(lambda: post_page_response(records, 20).body, 2000))
    return runs


def metrics(rounds: int) -> dict[str, list[float]]:
    service = ServiceMetrics("gateway")
    counter = Counter("c", "c", ["service", "dependency", "outcome"], registry=CollectorRegistry())
    runs: dict[str, list[float]] = {"labels_each_time": [], "series_once": []}
    for _ in range(rounds):
        runs["labels_each_time"].append(
            cpu_us(lambda: counter.labels("gateway", "timeline-1", "ok").inc(), 20000)
        )
        runs["series_once"].append(
            cpu_us(lambda: service.series(counter, "timeline-1", "ok").inc(), 20000)
        )
    return runs


def _dependency_app(asynchronous: bool) -> FastAPI:
    app = FastAPI()
    app.state.thing = object()

    def plain(request: Request) -> object:
        return request.app.state.thing

    async def coroutine(request: Request) -> object:
        return request.app.state.thing

    dependency = coroutine if asynchronous else plain

    @app.get("/x")
    async def route(thing: Any = Depends(dependency)) -> Response:
        return Response(b"{}", media_type="application/json")

    return app


async def _asgi_calls(app: FastAPI, n: int, request: dict[str, Any] | None = None) -> float:
    scope = request or {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": "/x", "raw_path": b"/x", "query_string": b"",
        "headers": [], "server": ("t", 80), "client": ("c", 1), "root_path": "",
    }  # fmt: skip

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        return None

    sent: list[MutableMapping[str, Any]] = []

    async def first_answer(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    await app(dict(scope), receive, first_answer)
    if sent[0].get("status") != 200:
        raise RuntimeError(f"the app answered {sent[0].get('status')}, not 200")
    for _ in range(100):
        await app(dict(scope), receive, send)
    began = time.process_time()
    for _ in range(n):
        await app(dict(scope), receive, send)
    return (time.process_time() - began) / n * 1e6


def dependency(rounds: int) -> dict[str, list[float]]:
    runs: dict[str, list[float]] = {"def_in_thread": [], "async_def": []}
    for _ in range(rounds):
        runs["def_in_thread"].append(uvloop.run(_asgi_calls(_dependency_app(False), 2000)))
        runs["async_def"].append(uvloop.run(_asgi_calls(_dependency_app(True), 2000)))
    return runs


class _Pages:
    """A home timeline with a page always ready (no Redis): what is left is the HTTP layer."""

    def __init__(self) -> None:
        self.records = [
            orjson.dumps({"id": 1_800_000_000_000_000 - n, "author_id": 3, "author": "alice",
                          "text": f"post {n}", "created_ms": 1_757_000_000_000 + n}).decode()
            for n in range(21)
        ]  # fmt: skip

    async def page(self, reader: int, limit: int, before: int | None) -> HomePage:
        return HomePage(self.records[:limit])


def _timeline_app(lane: bool) -> tuple[FastAPI, dict[str, Any]]:
    keys = TokenKeys("u" * 64, "i" * 64)
    settings = ServiceSettings(
        service_name="timeline", token_secret=keys.user_secret, internal_secret=keys.internal_secret
    )
    app = build_service_app(settings, title="t", description="t", routers=[timeline_router])
    app.state.timelines = _Pages()
    if not lane:
        app.fast_lanes = None
    headers = [
        (b"authorization", b"Bearer " + issue_user_token(keys, User(7, "alice")).encode()),
        (SERVICE_HEADER.lower().encode(), issue_service_token(keys, "gateway").encode()),
    ]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": "/internal/timeline", "raw_path": b"/internal/timeline",
             "query_string": b"limit=20", "headers": headers, "server": ("t", 80),
             "client": ("c", 1), "root_path": ""}  # fmt: skip
    return app, scope


def internal_route(rounds: int) -> dict[str, list[float]]:
    """Timeline's `GET /internal/timeline` in process (a page ready, no Redis): through the
    FastAPI app (routing, middlewares, dependencies) and through its fast lane."""
    runs: dict[str, list[float]] = {"fastapi_route": [], "fast_lane": []}
    for _ in range(rounds):
        for form, lane in (("fastapi_route", False), ("fast_lane", True)):
            app, scope = _timeline_app(lane)
            runs[form].append(uvloop.run(_asgi_calls(app, 2000, scope)))
    return runs


class _ReadyGateway:
    """The gateway's timeline reads with a page always ready (no replica): the HTTP layer left."""

    def __init__(self) -> None:
        self.timeline = self

    async def page(self, user: User, token: str, limit: int, before: int | None) -> Response:
        return Response(PAGE_BODY, media_type="application/json")


def public_route(rounds: int) -> dict[str, list[float]]:
    """The gateway's `GET /v1/timeline` in process (admission on, a page ready): through the
    FastAPI app and through its fast lane."""
    keys = TokenKeys("u" * 64, "i" * 64)
    headers = [(b"authorization", b"Bearer " + issue_user_token(keys, User(7, "a")).encode())]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": "/v1/timeline", "raw_path": b"/v1/timeline",
             "query_string": b"limit=20", "headers": headers, "server": ("t", 80),
             "client": ("c", 1), "root_path": ""}  # fmt: skip
    runs: dict[str, list[float]] = {"fastapi_route": [], "fast_lane": []}
    for _ in range(rounds):
        for form, lane in (("fastapi_route", False), ("fast_lane", True)):
            settings = GatewaySettings(
                token_secret=keys.user_secret, internal_secret=keys.internal_secret
            )
            app = create_gateway_app(settings)
            assert isinstance(app, ServiceApp) and app.fast_lanes is not None
            app.state.gateway = _ReadyGateway()
            if not lane:
                app.fast_lanes = None
            runs[form].append(uvloop.run(_asgi_calls(app, 2000, scope)))
    return runs


PIECES: dict[str, Callable[[int], dict[str, list[float]]]] = {
    "http_client": http_client,
    "token": token,
    "page": page,
    "metrics": metrics,
    "dependency": dependency,
    "internal_route": internal_route,
    "public_route": public_route,
}


def measure(rounds: int = 3) -> dict[str, dict[str, float]]:
    """Median CPU microseconds per operation of each form of each piece."""
    return {
        name: {form: round(statistics.median(values), 1) for form, values in piece(rounds).items()}
        for name, piece in PIECES.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(measure(args.rounds), indent=2))


if __name__ == "__main__":
    main()
