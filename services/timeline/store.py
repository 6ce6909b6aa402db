"""Home timelines in Redis (prefix `tl:`): a sorted set of post ids per user, and each post's
record once. Writing the same post twice changes nothing, so replayed events are harmless."""

import redis.asyncio as aioredis

POST_TTL_S = 30 * 24 * 3600


class HomeTimelines:
    def __init__(self, redis: "aioredis.Redis", max_len: int) -> None:
        self.redis = redis
        self.max_len = max_len

    async def deliver(self, post_id: int, record: str, readers: list[int]) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(f"tl:post:{post_id}", record, ex=POST_TTL_S)
            for reader in readers:
                key = f"tl:home:{reader}"
                pipe.zadd(key, {str(post_id): post_id})
                pipe.zremrangebyrank(key, 0, -self.max_len - 1)
            await pipe.execute()

    async def page(self, reader: int, limit: int, before: int | None) -> list[str]:
        upper = f"({before}" if before is not None else "+inf"
        ids = await self.redis.zrevrangebyscore(
            f"tl:home:{reader}", upper, "-inf", start=0, num=limit
        )
        if not ids:
            return []
        records = await self.redis.mget([f"tl:post:{i!s}" for i in ids])
        return [str(r) for r in records if r is not None]
