"""A member of a Redis stream consumer group that never drops an event.

Each event is acknowledged only after its handler succeeded. A handler that fails (a dependency
down) leaves the event pending and the consumer retries it, with backoff, before reading new ones;
events left pending by a dead member of the group are claimed after `claim_idle_ms`. Handlers must
therefore be harmless to replay.

An event its handler cannot take at all (a malformed record: the handler raises anything but an
outage) would fail the same way on every replay and hold back every event after it: it goes to
the dead-letter stream `<stream>:dead` with the error, is acknowledged, and the consumer goes on.

Each replica of a service is a member of its own (`consumer`, from services.common.instance):
two replicas under one consumer name would each read the other's pending events as their own
and handle every event twice, side by side, with no more throughput than one.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from services.common.cancellation import end_if_cancelled
from services.common.errors import DependencyUnavailable
from services.common.redis_store import REDIS_OUTAGES

log = logging.getLogger(__name__)

# What a handler or the consumer may meet while a dependency is away: retried, with backoff.
RETRIED = (*REDIS_OUTAGES, DependencyUnavailable, ResponseError)
Handler = Callable[[str, dict[str, str]], Awaitable[None]]


@dataclass
class ConsumerConfig:
    stream: str
    group: str
    consumer: str
    batch: int = 100
    block_ms: int = 250  # below the Redis socket timeout
    claim_idle_ms: int = 15_000
    retry_initial_s: float = 0.2
    retry_max_s: float = 5.0
    dead_letters_max: int = 10_000  # the dead-letter stream keeps about the newest this many

    @property
    def dead_letter_stream(self) -> str:
        return f"{self.stream}:dead"


class StreamConsumer:
    def __init__(self, redis: "aioredis.Redis", config: ConsumerConfig, handler: Handler) -> None:
        self.redis = redis
        self.config = config
        self.handler = handler
        self.processed = 0
        self.dead_letters = 0
        self._backoff = config.retry_initial_s

    async def run(self) -> None:
        """Consume until cancelled."""
        while True:
            try:
                await self._ensure_group()
                while True:
                    end_if_cancelled()
                    await self._step()
            except asyncio.CancelledError:
                raise
            except RETRIED as exc:
                log.warning(
                    "stream consumer paused",
                    extra={
                        "group": self.config.group,
                        "reason": str(exc),
                        "retry_s": self._backoff,
                    },
                )
                await asyncio.sleep(self._backoff)
                self._backoff = min(self._backoff * 2, self.config.retry_max_s)

    async def _ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(
                self.config.stream, self.config.group, id="0", mkstream=True
            )
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _step(self) -> None:
        # Own pending events first (a retry after a failed handler, or after a restart),
        # then events abandoned by a dead member, then new ones.
        if await self._handle(await self._read("0", block=None)):
            return
        if await self._handle(await self._claim_abandoned()):
            return
        await self._handle(await self._read(">", block=self.config.block_ms))

    async def _read(self, start: str, block: int | None) -> list[tuple[str, dict[str, str]]]:
        answer: Any = await self.redis.xreadgroup(
            self.config.group,
            self.config.consumer,
            {self.config.stream: start},
            count=self.config.batch,
            block=block,
        )
        return [(i, f or {}) for _, entries in answer or [] for i, f in entries]

    async def _claim_abandoned(self) -> list[tuple[str, dict[str, str]]]:
        answer: Any = await self.redis.xautoclaim(
            self.config.stream,
            self.config.group,
            self.config.consumer,
            min_idle_time=self.config.claim_idle_ms,
            start_id="0-0",
            count=self.config.batch,
        )
        return [(i, f or {}) for i, f in answer[1]]

    async def _handle(self, entries: list[tuple[str, dict[str, str]]]) -> bool:
        for entry_id, fields in entries:
            if fields:  # an entry trimmed from the stream while pending has nothing left to do
                try:
                    await self.handler(entry_id, fields)
                except (*RETRIED, asyncio.CancelledError):
                    raise
                except Exception as exc:
                    await self._dead_letter(entry_id, fields, exc)
            await self.redis.xack(self.config.stream, self.config.group, entry_id)
            self.processed += 1
            self._backoff = self.config.retry_initial_s
        return bool(entries)

    async def _dead_letter(self, entry_id: str, fields: dict[str, str], exc: Exception) -> None:
        record = {**fields, "dead_letter_of": entry_id, "dead_letter_error": repr(exc)[:500]}
        await self.redis.xadd(
            self.config.dead_letter_stream,
            record,  # type: ignore[arg-type]
            maxlen=self.config.dead_letters_max,
            approximate=True,
        )
        self.dead_letters += 1
        log.error(
            "stream event set aside: its handler cannot take it",
            extra={"stream": self.config.stream, "entry": entry_id, "error": repr(exc)[:200]},
        )

    async def lag(self) -> int:
        """Events of the stream this group has not yet acknowledged."""
        try:
            groups = await self.redis.xinfo_groups(self.config.stream)
        except ResponseError:
            return 0
        for group in groups:
            if group["name"] == self.config.group:
                pending = int(group.get("pending") or 0)
                unread = int(group.get("lag") or 0)
                return pending + unread
        return 0
