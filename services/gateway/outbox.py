"""Durable outboxes: writes accepted while their service is away, kept in a Redis stream and
delivered in order, one at a time, when it is back.

An entry leaves the outbox only after its service acknowledged it; delivery carries the
write's idempotency key, so a delivery repeated after a crash is applied once.
"""

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from services.common.errors import ChirpError, DependencyUnavailable, Unprocessable
from services.common.idempotency import IDEMPOTENCY_TTL_S
from services.common.metrics import ServiceMetrics
from services.common.redis_store import REDIS_OUTAGES, GuardedRedis

log = logging.getLogger("failwhale.outbox")

Deliver = Callable[[dict[str, str]], Awaitable[None]]

NEXT_POST_ID = """
-- The gateway's post ids: epoch ms * 1024 + a counter in 512..1023 (posts uses 0..511).
-- KEYS: last id, the id chosen for the client's idempotency key ('' when none)
-- ARGV: request fingerprint, idempotency ttl
-- A key keeps the id first chosen for it, so that a retry whose first attempt went into the
-- outbox unanswered (a 503 after the XADD) is answered with the id that will be delivered.
if KEYS[2] ~= '' then
  local prior = redis.call('GET', KEYS[2])
  if prior then
    local fp, sid = string.match(prior, '^(%x+):(%d+)$')
    if fp ~= ARGV[1] then return 'conflict' end
    return sid
  end
end
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local id = math.max(ms * 1024 + 512, tonumber(redis.call('GET', KEYS[1]) or '0') + 1)
if id % 1024 < 512 then id = id - id % 1024 + 512 end
local sid = string.format('%d', id)
redis.call('SET', KEYS[1], sid)
if KEYS[2] ~= '' then
  redis.call('SET', KEYS[2], ARGV[1] .. ':' .. sid, 'EX', ARGV[2])
end
return sid
"""


class PostIds:
    def __init__(self, redis: GuardedRedis) -> None:
        self._next = redis.register_script(NEXT_POST_ID)

    async def next(self, user_id: int, client_key: str | None = None, fp: str = "") -> int:
        """A new id; the same one again for a client's key that was given one already (422
        when that key came with another body)."""
        chosen = ""
        if client_key is not None:
            digest = hashlib.sha256(client_key.encode()).hexdigest()
            chosen = f"gw:posts:id:{user_id}:{digest}"
        answer = await self._next(
            keys=["gw:posts:last_id", chosen], args=[fp or "0", IDEMPOTENCY_TTL_S]
        )
        if answer == "conflict":
            raise Unprocessable("this Idempotency-Key was used with another request body")
        return int(answer)


class Outbox:
    def __init__(self, redis: GuardedRedis, name: str, metrics: ServiceMetrics) -> None:
        self.redis = redis
        self.name = name
        self.stream = f"gw:outbox:{name}"
        self.metrics = metrics

    async def add(self, fields: dict[str, str], pending_key: str | None = None) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(self.stream, fields)  # type: ignore[arg-type]
            if pending_key:
                pipe.incr(pending_key)
            await pipe.execute()

    async def pending(self, pending_key: str) -> int:
        return int(await self.redis.get(pending_key) or 0)

    async def oldest(self, count: int) -> list[tuple[str, dict[str, str]]]:
        entries: Any = await self.redis.xrange(self.stream, "-", "+", count=count)
        return [(str(i), {str(k): str(v) for k, v in (f or {}).items()}) for i, f in entries]

    async def done(self, entry_id: str, pending_key: str | None = None) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xdel(self.stream, entry_id)
            if pending_key:
                pipe.decr(pending_key)
            await pipe.execute()

    async def depth(self) -> int:
        return int(await self.redis.xlen(self.stream))


class Drainer:
    """Delivers an outbox in order: the oldest entry first, and never the next one before it."""

    IDLE_S = 0.2
    RETRY_INITIAL_S = 0.2
    RETRY_MAX_S = 2.0

    def __init__(
        self,
        outbox: Outbox,
        deliver: Deliver,
        pending_key: Callable[[dict[str, str]], str | None] = lambda _: None,
    ) -> None:
        self.outbox = outbox
        self.deliver = deliver
        self.pending_key = pending_key
        self.delivered = 0

    async def run(self) -> None:
        backoff = self.RETRY_INITIAL_S
        while True:
            try:
                entries = await self.outbox.oldest(50)
                depth = await self.outbox.depth()
                self.outbox.metrics.outbox_depth.labels(
                    self.outbox.metrics.service, self.outbox.name
                ).set(depth)
                if not entries:
                    await asyncio.sleep(self.IDLE_S)
                    continue
                for entry_id, fields in entries:
                    await self._deliver_one(entry_id, fields)
                backoff = self.RETRY_INITIAL_S
            except asyncio.CancelledError:
                raise
            except (DependencyUnavailable, *REDIS_OUTAGES) as exc:
                log.info("outbox waits", extra={"outbox": self.outbox.name, "reason": str(exc)})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.RETRY_MAX_S)

    async def _deliver_one(self, entry_id: str, fields: dict[str, str]) -> None:
        try:
            await self.deliver(fields)
        except DependencyUnavailable:
            raise
        except ChirpError as exc:
            # The service refused the write for good (a 4xx): keep it aside, never drop it
            # silently, and let the entries behind it through.
            log.error(
                "outbox entry refused",
                extra={"outbox": self.outbox.name, "entry": entry_id, "reason": exc.detail},
            )
            await self.outbox.redis.xadd(f"{self.outbox.stream}:refused", fields)  # type: ignore[arg-type]
        await self.outbox.done(entry_id, self.pending_key(fields))
        self.delivered += 1
