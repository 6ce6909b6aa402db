"""A second HTTP listener inside a service's process, for what must never be on its public port
(the chaos fault hook): a uvicorn server of its own on another socket, run by the service's
lifespan beside the main server.

The main uvicorn server owns the process's signals. uvicorn's `Server.serve` installs its own
SIGINT/SIGTERM handlers for as long as it runs (and re-raises the signal when it stops), so a
second server started the plain way would take SIGTERM from the main one: the internal listener
would stop and the service would go on serving. `InternalServer` captures no signals; it stops
when the lifespan that started it ends, that is after the main server has drained its
connections.
"""

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Callable, Iterator

import uvicorn
from starlette.types import ASGIApp

from services.common.http_guard import GuardedHttpTools

log = logging.getLogger("failwhale.internal")
STOP_TIMEOUT_S = 5.0


class InternalServer(uvicorn.Server):
    """A uvicorn server that leaves the process's signal handlers to the main server."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound now: a port in use fails the service's start, with its
    reason, instead of a listener quietly missing."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"the internal listener cannot bind {host}:{port}: {exc}") from exc
    return sock


@contextlib.asynccontextmanager
async def internal_listener(app: ASGIApp, host: str, port: int) -> AsyncIterator[int]:
    """Serves `app` on host:port while the block runs; yields the port bound (port 0: any)."""
    sock = bind(host, port)
    bound: int = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        lifespan="off",
        http=GuardedHttpTools,
        access_log=False,
        # uvicorn would otherwise reconfigure the process's logging, the main server's included.
        log_config=None,
        log_level=None,
        server_header=False,
    )
    server = InternalServer(config)
    # The socket already listens: connections made before the server runs wait in its backlog.
    task = asyncio.create_task(server.serve(sockets=[sock]), name="internal-listener")
    task.add_done_callback(_report_early_end(server))
    log.info("internal listener on %s:%d", host, bound)
    try:
        yield bound
    finally:
        server.should_exit = True
        try:
            await asyncio.wait_for(task, STOP_TIMEOUT_S)
        except TimeoutError:
            server.force_exit = True
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        sock.close()


def _report_early_end(server: InternalServer) -> Callable[[asyncio.Task[None]], None]:
    def report(task: asyncio.Task[None]) -> None:
        if not server.should_exit and not task.cancelled():
            log.error("the internal listener stopped on its own: %r", task.exception())

    return report
