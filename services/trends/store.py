"""Hashtag counts in Redis (prefix `trends:`), in one sorted set per minute.

Each post is counted once: the script remembers which posts it has seen, so a replayed event
does not count twice.

Bounded both ways. A minute keeps at most `TAGS_PER_MINUTE` tags: past that, the least counted
are dropped (so a flood of one-off tags costs a fixed amount, and a tag dropped and seen again
starts from one: counts can come out low for rare tags, never high). A ranking reads at most
that many tags of each minute of the window.
"""

import re
import time

import redis.asyncio as aioredis

HASHTAG = re.compile(r"#(\w{1,50})")
BUCKET_TTL_S = 2 * 3600
SEEN_TTL_S = 2 * 3600
TAGS_PER_MINUTE = 500

COUNT = """
-- KEYS: seen marker, minute bucket ; ARGV: ttl of marker, ttl of bucket, cap, tags...
if redis.call('SET', KEYS[1], 1, 'NX', 'EX', ARGV[1]) == false then return 0 end
for i = 4, #ARGV do redis.call('ZINCRBY', KEYS[2], 1, ARGV[i]) end
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[3])
if over > 0 then redis.call('ZREMRANGEBYRANK', KEYS[2], 0, over - 1) end
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 1
"""


def hashtags(text: str) -> list[str]:
    return sorted({tag.lower() for tag in HASHTAG.findall(text)})


class TrendCounts:
    def __init__(self, redis: "aioredis.Redis", tags_per_minute: int = TAGS_PER_MINUTE) -> None:
        self.redis = redis
        self.tags_per_minute = tags_per_minute
        self._count = redis.register_script(COUNT)

    async def count(self, post_id: int, created_ms: int, tags: list[str]) -> None:
        if not tags:
            return
        minute = created_ms // 60_000
        await self._count(
            keys=[f"trends:seen:{post_id}", f"trends:minute:{minute}"],
            args=[SEEN_TTL_S, BUCKET_TTL_S, self.tags_per_minute, *tags],
        )

    async def top(self, window_minutes: int, top: int) -> list[tuple[str, int]]:
        now_minute = int(time.time() // 60)
        async with self.redis.pipeline(transaction=False) as pipe:
            for minute in range(now_minute - window_minutes + 1, now_minute + 1):
                key = f"trends:minute:{minute}"
                pipe.zrange(key, 0, self.tags_per_minute - 1, desc=True, withscores=True)
            buckets = await pipe.execute()
        totals: dict[str, int] = {}
        for bucket in buckets:
            for tag, score in bucket:
                totals[tag] = totals.get(tag, 0) + int(score)
        ranked = sorted(totals.items(), key=lambda item: (-item[1], item[0]))
        return ranked[:top]
