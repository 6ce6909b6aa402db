"""The delay relay (latency where the kernel has no netem): what a client sends reaches the
service late by the delay, in order even with jitter, and answers come back at once; a client's
half-close reaches the service; closing the relay ends its connections."""

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from chaos.network.delay_proxy import DelayRelay

pytestmark = pytest.mark.anyio


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(100):
        writer.write(data)
        await writer.drain()
    writer.write(b"<eof>")  # what a service says after the client finished sending
    writer.close()


@pytest.fixture
async def upstream() -> AsyncIterator[int]:
    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


async def relay_to(port: int, delay_ms: float, jitter_ms: float = 0) -> tuple[DelayRelay, int]:
    relay = DelayRelay(0, port, delay_ms, jitter_ms, listen_host="127.0.0.1")
    return relay, await relay.start()


async def test_each_request_arrives_late_by_the_delay(upstream: int) -> None:
    relay, port = await relay_to(upstream, 150)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for n in range(3):
            began = time.perf_counter()
            writer.write(b"ping%d" % n)
            await writer.drain()
            assert await reader.read(100) == b"ping%d" % n
            assert time.perf_counter() - began >= 0.15
    finally:
        writer.close()
        await relay.close()
    assert relay.connections == 1 and relay.delayed_chunks == 3


async def test_jitter_never_reorders_the_stream(upstream: int) -> None:
    relay, port = await relay_to(upstream, 20, jitter_ms=20)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sent = b"".join(b"%03d," % n for n in range(60))
    for n in range(60):
        writer.write(b"%03d," % n)
        await writer.drain()
        await asyncio.sleep(0.001)
    writer.write_eof()
    received = b""
    while data := await reader.read(1000):
        received += data
    writer.close()
    await relay.close()
    assert received == sent + b"<eof>"


async def test_closing_the_relay_ends_its_connections(upstream: int) -> None:
    relay, port = await relay_to(upstream, 10)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"x")
    await writer.drain()
    assert await reader.read(10) == b"x"
    await relay.close()
    assert await asyncio.wait_for(reader.read(10), 2) == b""
    writer.close()
