"""Durable outboxes: writes accepted while their service is away, kept in a Redis stream and
delivered in order (services.gateway.drainer) when it is back.

Each step that changes more than one key is one Lua script, and each is safe to run twice: an
entry and its conversation's pending count are added together, and removed together only by
the call that found the entry still there. An outbox holds at most `MAX_ENTRIES`; a write
beyond that is refused with 503 rather than accepted and dropped later.
"""

import hashlib
from typing import Any

from services.common.errors import DependencyUnavailable, Unprocessable
from services.common.idempotency import IDEMPOTENCY_TTL_S
from services.common.metrics import ServiceMetrics
from services.common.redis_store import GuardedRedis

# About 300 bytes an entry: a full outbox is some 30 MB of Redis.
MAX_ENTRIES = 100_000
# Entries the service refused for good are kept aside for a person to read, the newest ones.
MAX_REFUSED = 10_000

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


ADD = """
-- KEYS: stream, pending count ('' when none) ; ARGV: most entries, field, value, ...
-- A full Redis refuses the XADD (the first write) and then nothing has changed.
if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[1]) then return false end
local id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))
if KEYS[2] ~= '' then redis.call('INCR', KEYS[2]) end
return id
"""

SETTLE = """
-- KEYS: stream, pending count ('' when none), refused stream ('' when delivered)
-- ARGV: entry id, most refused entries kept, field, value, ... (the entry, when refused)
-- Only the call that finds the entry still there moves it on and counts it down: a second
-- run (a retry, a restarted drainer) changes nothing. Every check comes before the first
-- write, and a full Redis refuses only a script's first write, so it runs whole or not at all.
if #redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1]) == 0 then return 0 end
if KEYS[2] ~= '' then
  local count = redis.call('GET', KEYS[2])
  if count and not tonumber(count) then
    return redis.error_reply('ERR ' .. KEYS[2] .. ' is not a count: ' .. count)
  end
end
if KEYS[3] ~= '' then
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, 3))
end
redis.call('XDEL', KEYS[1], ARGV[1])
if KEYS[2] ~= '' then
  -- At zero (or below, left by an older gateway) the count goes: no key per conversation ever.
  if redis.call('DECR', KEYS[2]) <= 0 then redis.call('DEL', KEYS[2]) end
end
return 1
"""


class OutboxFull(DependencyUnavailable):
    def __init__(self, name: str) -> None:
        detail = f"the {name} outbox is full; try again later"
        super().__init__(name, detail, retry_after_s=5, reason="outbox-full")


class Outbox:
    def __init__(
        self,
        redis: GuardedRedis,
        name: str,
        metrics: ServiceMetrics,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        self.redis = redis
        self.name = name
        self.stream = f"gw:outbox:{name}"
        self.refused_stream = f"{self.stream}:refused"
        self.metrics = metrics
        self.max_entries = max_entries
        self._add = redis.register_script(ADD)
        self._settle = redis.register_script(SETTLE)

    async def add(self, fields: dict[str, str], pending_key: str | None = None) -> None:
        """Append a write (and count it in its conversation); `OutboxFull` (503) at the cap."""
        pairs = [item for field in fields.items() for item in field]
        added = await self._add(
            keys=[self.stream, pending_key or ""], args=[self.max_entries, *pairs]
        )
        if added is None:
            raise OutboxFull(self.name)

    async def pending(self, pending_key: str) -> int:
        return int(await self.redis.get(pending_key) or 0)

    async def oldest(self, count: int) -> list[tuple[str, dict[str, str]]]:
        entries: Any = await self.redis.xrange(self.stream, "-", "+", count=count)
        return [(str(i), {str(k): str(v) for k, v in (f or {}).items()}) for i, f in entries]

    async def done(
        self,
        entry_id: str,
        pending_key: str | None = None,
        refused: dict[str, str] | None = None,
    ) -> bool:
        """Remove a delivered entry, or move a refused one aside; False when it was gone."""
        pairs = [item for field in (refused or {}).items() for item in field]
        keys = [self.stream, pending_key or "", self.refused_stream if refused else ""]
        return bool(await self._settle(keys=keys, args=[entry_id, MAX_REFUSED, *pairs]))

    async def depth(self) -> int:
        return int(await self.redis.xlen(self.stream))
