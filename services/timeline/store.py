"""Home timelines in Redis (prefix `tl:`): a sorted set of post ids per user, and each post's
record once. Writing the same post twice changes nothing, so replayed events are harmless."""

import redis.asyncio as aioredis

POST_TTL_S = 30 * 24 * 3600
POST_PREFIX = "tl:post:"
# A page in one round trip: the ids, newest first, then their records (a page read is the
# service's hot path; two round trips cost a tenth of its time, docs/performance.md).
PAGE_SCRIPT = """
local ids = redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[1], '-inf', 'LIMIT', 0, ARGV[2])
if #ids == 0 then return {} end
local keys = {}
for i, id in ipairs(ids) do keys[i] = ARGV[3] .. id end
return redis.call('MGET', unpack(keys))
"""


class HomeTimelines:
    def __init__(self, redis: "aioredis.Redis", max_len: int) -> None:
        self.redis = redis
        self.max_len = max_len
        self._page = redis.register_script(PAGE_SCRIPT)

    async def deliver(self, post_id: int, record: str, readers: list[int]) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(f"{POST_PREFIX}{post_id}", record, ex=POST_TTL_S)
            for reader in readers:
                key = f"tl:home:{reader}"
                pipe.zadd(key, {str(post_id): post_id})
                pipe.zremrangebyrank(key, 0, -self.max_len - 1)
            await pipe.execute()

    async def page(self, reader: int, limit: int, before: int | None) -> list[str]:
        upper = f"({before}" if before is not None else "+inf"
        records = await self._page(keys=[f"tl:home:{reader}"], args=[upper, limit, POST_PREFIX])
        return [str(r) for r in records if r is not None]
