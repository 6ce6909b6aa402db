"""Posts, user timelines and the post event stream in Redis (prefix `posts:`).

Post ids tell time: an id is the creation time in epoch milliseconds times 1024 plus a
counter, so ordering by id is ordering by time, and `created_at` is derived from the id. Ids
chosen by posts use counters below 512; ids of posts accepted by the gateway's outbox during an
outage use 512 and above, so the two never meet.

A post is created, added to its author's timeline, published on the stream and (with an
idempotency key) remembered, all in one Lua script: a crash never leaves half a post, and a
retry never makes a second one.
"""

import hashlib

import redis.asyncio as aioredis

from services.common.errors import Conflict, NotFound, Unprocessable
from services.common.idempotency import IDEMPOTENCY_TTL_S
from services.common.wire import POST_EVENTS_STREAM

CREATE = """
-- KEYS: last id, stream, idempotency key ('' when none)
-- ARGV: author_id, author, text, fingerprint, idempotency ttl, stream max length,
--       id chosen upstream ('' when none)
-- Ids pass 2^47: Lua would print them as 1.8e+15, so every id is written with %d.
if KEYS[3] ~= '' then
  local prior = redis.call('GET', KEYS[3])
  if prior then
    local rec = cjson.decode(prior)
    if rec.fp ~= ARGV[4] then return {'conflict', ''} end
    return {'replay', redis.call('GET', 'posts:' .. rec.id)}
  end
end
local id
if ARGV[7] ~= '' then
  id = tonumber(ARGV[7])
  if redis.call('EXISTS', 'posts:' .. string.format('%d', id)) == 1 then
    return {'taken', ''}
  end
else
  local now = redis.call('TIME')
  local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
  -- Never below the previous id: ids, and the times derived from them, only grow.
  id = math.max(ms * 1024, tonumber(redis.call('GET', KEYS[1]) or '0') + 1)
  -- Counters 512..1023 of each millisecond belong to the gateway's outbox.
  if id % 1024 >= 512 then id = id - id % 1024 + 1024 end
  while redis.call('EXISTS', 'posts:' .. string.format('%d', id)) == 1 do id = id + 1 end
  redis.call('SET', KEYS[1], string.format('%d', id))
end
local sid = string.format('%d', id)
local post = '{"id":' .. sid .. ',"author_id":' .. ARGV[1] .. ',"author":' .. cjson.encode(ARGV[2])
  .. ',"text":' .. cjson.encode(ARGV[3]) .. ',"created_ms":'
  .. string.format('%d', math.floor(id / 1024)) .. '}'
redis.call('SET', 'posts:' .. sid, post)
redis.call('ZADD', 'posts:user:' .. ARGV[1], sid, sid)
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*', 'post', post)
if KEYS[3] ~= '' then
  redis.call('SET', KEYS[3], cjson.encode({fp = ARGV[4], id = sid}), 'EX', ARGV[5])
end
return {'created', post}
"""


# The newest `limit` posts of several authors, newest first, in one round trip. Ids are compared
# as decimal strings (longer is larger), never as Lua numbers.
BY_AUTHORS = """
-- KEYS: the authors' timelines (posts:user:<id>); ARGV: upper bound, limit
local seen, ids = {}, {}
for _, key in ipairs(KEYS) do
  for _, id in ipairs(redis.call('ZREVRANGEBYSCORE', key, ARGV[1], '-inf', 'LIMIT', 0, ARGV[2])) do
    if not seen[id] then seen[id] = true; ids[#ids + 1] = id end
  end
end
table.sort(ids, function(a, b) return #a > #b or (#a == #b and a > b) end)
local wanted = {}
for i = 1, math.min(#ids, tonumber(ARGV[2])) do wanted[i] = 'posts:' .. ids[i] end
if #wanted == 0 then return {} end
return redis.call('MGET', unpack(wanted))
"""


class PostStore:
    def __init__(self, redis: "aioredis.Redis", stream_max_len: int) -> None:
        self.redis = redis
        self.stream_max_len = stream_max_len
        self._create = redis.register_script(CREATE)
        self._by_authors = redis.register_script(BY_AUTHORS)

    async def create(
        self,
        author_id: int,
        author: str,
        text: str,
        idempotency_key: str | None,
        fp: str,
        post_id: int | None = None,
    ) -> tuple[str, str]:
        """Returns (`created` or `replay`, the stored post record). `post_id` is an id chosen
        upstream (a post accepted by the gateway's outbox while posts was away)."""
        chosen = "" if post_id is None else str(post_id)
        idem = ""
        if idempotency_key is not None:
            digest = hashlib.sha256(idempotency_key.encode()).hexdigest()
            idem = f"posts:idem:{author_id}:{digest}"
        answer: list[str] = await self._create(
            keys=["posts:last_id", POST_EVENTS_STREAM, idem],
            args=[author_id, author, text, fp, IDEMPOTENCY_TTL_S, self.stream_max_len, chosen],
        )
        outcome, record = answer
        if outcome == "conflict":
            raise Unprocessable("this Idempotency-Key was used with another request body")
        if outcome == "taken":
            raise Conflict(f"post {post_id} exists already")
        return str(outcome), str(record)

    async def by_authors(self, authors: list[int], limit: int, before: int | None) -> list[str]:
        """The newest posts of several authors together, newest first (fan-out on read, the
        home timeline's fallback): one round trip, merged in Redis."""
        if not authors:
            return []
        upper = f"({before}" if before is not None else "+inf"
        keys = [f"posts:user:{author}" for author in authors]
        records = await self._by_authors(keys=keys, args=[upper, limit])
        return [str(r) for r in records if r is not None]

    async def get(self, post_id: int) -> str:
        record = await self.redis.get(f"posts:{post_id}")
        if record is None:
            raise NotFound(f"no post {post_id}")
        return str(record)

    async def get_many(self, post_ids: list[int]) -> list[str]:
        if not post_ids:
            return []
        records = await self.redis.mget([f"posts:{i}" for i in post_ids])
        return [str(r) for r in records if r is not None]

    async def by_author(self, author_id: int, limit: int, before: int | None) -> list[str]:
        upper = f"({before}" if before is not None else "+inf"
        ids = await self.redis.zrevrangebyscore(
            f"posts:user:{author_id}", upper, "-inf", start=0, num=limit
        )
        return await self.get_many([int(str(i)) for i in ids])
