"""Posts, user timelines and the post event stream in Redis (prefix `posts:`).

A post is created, added to its author's timeline, published on the stream and (with an
idempotency key) remembered, all in one Lua script: a crash never leaves half a post, and a
retry never makes a second one.
"""

import hashlib

import redis.asyncio as aioredis

from services.common.errors import NotFound, Unprocessable
from services.common.idempotency import IDEMPOTENCY_TTL_S
from services.common.wire import POST_EVENTS_STREAM

CREATE = """
-- KEYS: next_id, last_ms, stream, idempotency key ('' when none)
-- ARGV: author_id, author, text, fingerprint, idempotency ttl, stream max length
if KEYS[4] ~= '' then
  local prior = redis.call('GET', KEYS[4])
  if prior then
    local rec = cjson.decode(prior)
    if rec.fp ~= ARGV[4] then return {'conflict', ''} end
    return {'replay', redis.call('GET', 'posts:' .. rec.id)}
  end
end
local id = redis.call('INCR', KEYS[1])
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
-- Never earlier than the previous post: ids and times sort the same way.
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
if ms < last then ms = last end
redis.call('SET', KEYS[2], ms)
local post = cjson.encode({id = id, author_id = tonumber(ARGV[1]), author = ARGV[2],
                           text = ARGV[3], created_ms = ms})
redis.call('SET', 'posts:' .. id, post)
redis.call('ZADD', 'posts:user:' .. ARGV[1], id, id)
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[6], '*', 'post', post)
if KEYS[4] ~= '' then
  redis.call('SET', KEYS[4], cjson.encode({fp = ARGV[4], id = id}), 'EX', ARGV[5])
end
return {'created', post}
"""


class PostStore:
    def __init__(self, redis: "aioredis.Redis", stream_max_len: int) -> None:
        self.redis = redis
        self.stream_max_len = stream_max_len
        self._create = redis.register_script(CREATE)

    async def create(
        self, author_id: int, author: str, text: str, idempotency_key: str | None, fp: str
    ) -> tuple[str, str]:
        """Returns (`created` or `replay`, the stored post record)."""
        idem = ""
        if idempotency_key is not None:
            digest = hashlib.sha256(idempotency_key.encode()).hexdigest()
            idem = f"posts:idem:{author_id}:{digest}"
        answer: list[str] = await self._create(
            keys=["posts:next_id", "posts:last_ms", POST_EVENTS_STREAM, idem],
            args=[author_id, author, text, fp, IDEMPOTENCY_TTL_S, self.stream_max_len],
        )
        outcome, record = answer
        if outcome == "conflict":
            raise Unprocessable("this Idempotency-Key was used with another request body")
        return str(outcome), str(record)

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
