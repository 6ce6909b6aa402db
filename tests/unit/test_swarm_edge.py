"""The edge relay, on real loopback sockets: bytes go both ways, connections spread over every
address of the name, an address that refuses is skipped, a name without a live address closes
the client's connection."""

import asyncio
import socket

import pytest

from stack.swarm.edge import Relay, Route


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class FixedRelay(Relay):
    """A relay whose service name resolves to the given addresses."""

    def __init__(self, route: Route, addresses: list[str]) -> None:
        super().__init__(route)
        self._addresses = addresses

    async def addresses(self) -> list[str]:
        return self._addresses


async def upstream(address: str, port: int) -> asyncio.Server:
    """Answers each line with `<address>:<line>`."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = await reader.readline()
        writer.write(f"{address}:{line.decode()}".encode())
        await writer.drain()
        writer.close()

    return await asyncio.start_server(answer, address, port)


async def ask(port: int, text: str) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"{text}\n".encode())
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return answer.decode()


def test_connections_spread_over_every_address_and_skip_one_that_refuses() -> None:
    async def scenario() -> list[str]:
        port, listen = free_port(), free_port()
        servers = [await upstream(a, port) for a in ("127.0.0.2", "127.0.0.3")]
        # 127.0.0.4 has no server: refused, skipped for the next address
        relay = FixedRelay(Route(listen, "timeline", port), ["127.0.0.2", "127.0.0.3", "127.0.0.4"])
        edge = await asyncio.start_server(relay.handle, "127.0.0.1", listen)
        answers = [await ask(listen, f"n{i}") for i in range(6)]
        for server in [*servers, edge]:
            server.close()
        return answers

    answers = asyncio.run(scenario())
    assert all(answer.endswith(f":n{i}\n") for i, answer in enumerate(answers)), answers
    served = [answer.split(":")[0] for answer in answers]
    assert set(served) == {"127.0.0.2", "127.0.0.3"}
    assert served.count("127.0.0.2") >= 2 and served.count("127.0.0.3") >= 2


def test_a_name_without_a_live_address_closes_the_client_connection() -> None:
    async def scenario() -> bytes:
        listen = free_port()
        relay = FixedRelay(Route(listen, "gateway", free_port()), ["127.0.0.5"])
        edge = await asyncio.start_server(relay.handle, "127.0.0.1", listen)
        reader, writer = await asyncio.open_connection("127.0.0.1", listen)
        answer = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        edge.close()
        return answer

    assert asyncio.run(scenario()) == b""


def test_routes_parse_listen_port_and_service() -> None:
    assert Route.parse("18000=gateway:8000") == Route(18000, "gateway", 8000)
    with pytest.raises(Exception, match="LISTEN_PORT=HOST:PORT"):
        Route.parse("gateway:8000")
