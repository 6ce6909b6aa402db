"""The edge relay: a TCP relay on the stack's overlay network that publishes swarm services on
one host address (swarm's own published ports bind every address of a node, never 127.0.0.1).

    python -m stack.swarm.edge 8080=gateway:8000 8089=locust:8089

Each connection resolves the service name again (tasks come and go) and goes to the next of
its addresses in turn, so connections spread over every replica; an address that refuses is
skipped for the next one. Standard library only.
"""

import argparse
import asyncio
import itertools
import logging
import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass

CONNECT_TIMEOUT_S = 3.0
CHUNK = 65536
log = logging.getLogger("edge")


@dataclass(frozen=True)
class Route:
    listen_port: int
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> "Route":
        """`LISTEN=HOST:PORT`."""
        listen, _, target = text.partition("=")
        host, _, port = target.rpartition(":")
        if not (listen.isdigit() and host and port.isdigit()):
            raise argparse.ArgumentTypeError(f"{text!r}: expected LISTEN_PORT=HOST:PORT")
        return cls(int(listen), host, int(port))


class Relay:
    """One listening port relayed to one service name."""

    def __init__(self, route: Route) -> None:
        self.route = route
        self._turn = itertools.count()

    async def addresses(self) -> list[str]:
        infos = await asyncio.get_running_loop().getaddrinfo(
            self.route.host, self.route.port, type=socket.SOCK_STREAM
        )
        return sorted({str(info[4][0]) for info in infos})

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        addresses = await self.addresses()
        if not addresses:
            raise OSError(f"{self.route.host} has no address")
        first = next(self._turn) % len(addresses)
        error: OSError | None = None
        for address in addresses[first:] + addresses[:first]:
            try:
                return await asyncio.wait_for(
                    asyncio.open_connection(address, self.route.port), CONNECT_TIMEOUT_S
                )
            except (OSError, TimeoutError) as exc:
                error = OSError(f"{address}:{self.route.port}: {exc}")
        assert error is not None
        raise error

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await self.connect()
        except OSError as exc:
            log.warning("%s: no upstream: %s", self.route.host, exc)
            writer.close()
            return
        try:
            await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))
        finally:
            upstream_writer.close()
            writer.close()


async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    """Copies until the source ends, then half-closes the sink: the other way goes on until its
    own end (a client that half-closes still gets its answer). A broken side closes both."""
    try:
        while chunk := await source.read(CHUNK):
            sink.write(chunk)
            await sink.drain()
        if sink.can_write_eof():
            sink.write_eof()
        else:
            sink.close()
    except OSError:
        sink.close()


async def serve(routes: Sequence[Route], host: str = "0.0.0.0") -> None:
    servers = [
        await asyncio.start_server(Relay(route).handle, host, route.listen_port) for route in routes
    ]
    for route in routes:
        log.info("relaying :%d to %s:%d", route.listen_port, route.host, route.port)
    await asyncio.gather(*(server.serve_forever() for server in servers))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack.swarm.edge", description=__doc__)
    parser.add_argument("routes", nargs="+", type=Route.parse, metavar="LISTEN_PORT=HOST:PORT")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s edge %(message)s")
    try:
        asyncio.run(serve(args.routes))
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
