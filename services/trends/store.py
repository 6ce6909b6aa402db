"""Hashtag counts in Redis (prefix `trends:`), in one sorted set per minute.

Each post is counted once: the script remembers which posts it has seen, so a replayed event
does not count twice.
"""

import re
import time

import redis.asyncio as aioredis

HASHTAG = re.compile(r"#(\w{1,50})")
BUCKET_TTL_S = 2 * 3600
SEEN_TTL_S = 2 * 3600

COUNT = """
-- KEYS: seen marker, minute bucket ; ARGV: ttl of marker, ttl of bucket, tags...
if redis.call('SET', KEYS[1], 1, 'NX', 'EX', ARGV[1]) == false then return 0 end
for i = 3, #ARGV do redis.call('ZINCRBY', KEYS[2], 1, ARGV[i]) end
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 1
"""


def hashtags(text: str) -> list[str]:
    return sorted({tag.lower() for tag in HASHTAG.findall(text)})


class TrendCounts:
    def __init__(self, redis: "aioredis.Redis") -> None:
        self.redis = redis
        self._count = redis.register_script(COUNT)

    async def count(self, post_id: int, created_ms: int, tags: list[str]) -> None:
        if not tags:
            return
        minute = created_ms // 60_000
        await self._count(
            keys=[f"trends:seen:{post_id}", f"trends:minute:{minute}"],
            args=[SEEN_TTL_S, BUCKET_TTL_S, *tags],
        )

    async def top(self, window_minutes: int, top: int) -> list[tuple[str, int]]:
        now_minute = int(time.time() // 60)
        async with self.redis.pipeline(transaction=False) as pipe:
            for minute in range(now_minute - window_minutes + 1, now_minute + 1):
                pipe.zrange(f"trends:minute:{minute}", 0, -1, withscores=True)
            buckets = await pipe.execute()
        totals: dict[str, int] = {}
        for bucket in buckets:
            for tag, score in bucket:
                totals[tag] = totals.get(tag, 0) + int(score)
        ranked = sorted(totals.items(), key=lambda item: (-item[1], item[0]))
        return ranked[:top]
