"""A TCP relay that holds what clients send for a delay (with jitter) before passing it on: the
latency fault where the kernel has no netem (docs/faults.md).

It runs in a helper container in the target's network namespace, behind an iptables REDIRECT of
the service port (see agent.py), and forwards to the service on 127.0.0.1. Only the client's
side is delayed, chunk by chunk and in order, so each request (or Redis command) arrives late
by the delay while the connection's throughput stays whole. Standard library only: its source
is sent to the helper with `python3 -c`.
"""

import asyncio
import contextlib
import random
import time

CHUNK = 65536


class DelayRelay:
    def __init__(
        self,
        listen_port: int,
        upstream_port: int,
        delay_ms: float,
        jitter_ms: float = 0.0,
        upstream_host: str = "127.0.0.1",
        listen_host: str = "0.0.0.0",
    ) -> None:
        self.listen_port = listen_port
        self.upstream = (upstream_host, upstream_port)
        self.listen_host = listen_host
        self.delay_ms = delay_ms
        self.jitter_ms = jitter_ms
        self.connections = 0
        self.delayed_chunks = 0
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        """Listen; returns the port (useful with port 0)."""
        self._server = await asyncio.start_server(self._serve, self.listen_host, self.listen_port)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    def delay_s(self) -> float:
        jitter = random.uniform(-self.jitter_ms, self.jitter_ms) if self.jitter_ms else 0.0
        return max(0.0, self.delay_ms + jitter) / 1000

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self.connections += 1
        try:
            await self._relay(reader, writer)
        except (OSError, asyncio.IncompleteReadError):
            pass  # a reset on either side ends the connection, as it would without the relay
        finally:
            self._handlers.discard(task)
            writer.close()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def hold() -> None:
            due = 0.0
            while True:
                data = await reader.read(CHUNK)
                # Never before the previous chunk: jitter must not reorder a byte stream.
                due = max(due, time.monotonic() + self.delay_s())
                await queue.put((due, data))
                if not data:
                    return

        async def release() -> None:
            while True:
                due, data = await queue.get()
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                if not data:
                    if up_writer.can_write_eof():
                        up_writer.write_eof()
                    return
                self.delayed_chunks += 1
                up_writer.write(data)
                await up_writer.drain()

        async def answer() -> None:
            while data := await up_reader.read(CHUNK):
                writer.write(data)
                await writer.drain()

        answering = asyncio.create_task(answer())
        tasks = {asyncio.create_task(hold()), asyncio.create_task(release()), answering}
        try:
            # The connection is over when the service closes its side, or on any error.
            pending = set(tasks)
            while answering in pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    failure = task.exception()
                    if failure is not None:
                        raise failure
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(OSError):
                up_writer.close()
