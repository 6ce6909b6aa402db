"""The internal listener: serves its app on a socket of its own, leaves the process's signal
handlers to the main uvicorn server (a second server must not take SIGTERM from it), and fails
the service's start when its port is taken."""

import signal
import socket

import httpx
import pytest
from fastapi import FastAPI

from services.common.internal_listener import internal_listener

pytestmark = pytest.mark.anyio


def tiny_app() -> FastAPI:
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    return app


async def test_it_serves_its_app_and_leaves_the_signal_handlers_alone() -> None:
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    async with internal_listener(tiny_app(), "127.0.0.1", 0) as port:
        async with httpx.AsyncClient() as client:
            answer = await client.get(f"http://127.0.0.1:{port}/ping")
        assert answer.json() == {"pong": "yes"}
        during = {sig: signal.getsignal(sig) for sig in before}
    assert during == before  # a plain uvicorn.Server would have put its own handle_exit here
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # closed when the block ended


async def test_a_taken_port_fails_with_the_listener_named() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match=f"internal listener cannot bind 127.0.0.1:{port}"):
            async with internal_listener(tiny_app(), "127.0.0.1", port):
                pass
