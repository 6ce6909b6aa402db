"""An open-loop load: requests leave at a constant rate whatever the system does (closed-loop
clients slow down with the system and hide its queueing)."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx


@dataclass(frozen=True)
class Outcome:
    at: float
    status: int  # 0: no answer
    degraded: bool
    latency_s: float


@dataclass
class OpenLoop:
    rate: float
    request: Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]
    timeout_s: float = 35.0
    outcomes: list[Outcome] = field(default_factory=list)

    async def run(
        self,
        client: httpx.AsyncClient,
        duration_s: float,
        started: float,
        stop: asyncio.Event | None = None,
    ) -> None:
        """Requests for `duration_s`, or until `stop` is set if that comes first."""
        interval = 1.0 / self.rate
        tasks: set[asyncio.Task[None]] = set()
        n = 0
        next_at = time.monotonic()
        end = next_at + duration_s
        while next_at < end and not (stop is not None and stop.is_set()):
            task = asyncio.create_task(self._one(client, n, started))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            n += 1
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        if tasks:
            await asyncio.wait(tasks, timeout=self.timeout_s)

    async def _one(self, client: httpx.AsyncClient, n: int, started: float) -> None:
        sent = time.monotonic()
        try:
            answer = await asyncio.wait_for(self.request(client, n), self.timeout_s)
            status, degraded = answer.status_code, "x-degraded" in answer.headers
        except (httpx.HTTPError, TimeoutError):
            status, degraded = 0, False
        self.outcomes.append(Outcome(sent - started, status, degraded, time.monotonic() - sent))
