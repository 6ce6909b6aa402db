"""Home timelines in Redis (prefix `tl:`): a sorted set of post ids per reader (`tl:home:<id>`),
a post list per heavy author (`tl:author:<id>`), and each post's record once. Writing the same
post twice changes nothing, so replayed events are harmless.

A page is the reader's home set merged with the lists of the heavy accounts they follow, newest
first, without duplicates (a post may sit in both: the author's own home, or a post fanned out
before its author turned heavy), cut at `before` the same way in every list.
"""

import redis.asyncio as aioredis

POST_TTL_S = 30 * 24 * 3600
POST_PREFIX = "tl:post:"
HOME_PREFIX = "tl:home:"
AUTHOR_PREFIX = "tl:author:"
# A page in one round trip: the ids, newest first, then their records (a page read is the
# service's hot path; two round trips cost a tenth of its time, docs/performance.md). With heavy
# accounts followed, each list gives at most `limit` ids under the bound, newest first, and a
# merge of their heads takes the newest `limit` of all of them, each once. Ids are post ids,
# whose order is their time order; as Lua numbers they are exact (below 2^53).
PAGE_SCRIPT = """
-- KEYS: the reader's home, then the post lists of the heavy accounts they follow
-- ARGV: upper bound ('+inf' or '(id'), limit, record prefix
local limit = tonumber(ARGV[2])
local ids
if #KEYS == 1 then
  ids = redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[1], '-inf', 'LIMIT', 0, limit)
else
  local lists, heads, values = {}, {}, {}
  for k, key in ipairs(KEYS) do
    lists[k] = redis.call('ZREVRANGEBYSCORE', key, ARGV[1], '-inf', 'LIMIT', 0, limit)
    heads[k] = 1
    values[k] = tonumber(lists[k][1])
  end
  ids = {}
  local seen = {}
  while #ids < limit do
    local best = nil
    for k = 1, #lists do
      if values[k] ~= nil and (best == nil or values[k] > values[best]) then best = k end
    end
    if best == nil then break end
    local id = lists[best][heads[best]]
    heads[best] = heads[best] + 1
    values[best] = tonumber(lists[best][heads[best]])
    if not seen[id] then
      seen[id] = true
      ids[#ids + 1] = id
    end
  end
end
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
        """Fan-out on write: the post into each reader's home set."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(f"{POST_PREFIX}{post_id}", record, ex=POST_TTL_S)
            for reader in readers:
                self._add(pipe, f"{HOME_PREFIX}{reader}", post_id)
            await pipe.execute()

    async def publish_heavy(self, post_id: int, record: str, author: int) -> None:
        """A heavy author's post: into its own post list and the author's home, whatever the
        number of followers (they merge the list on read)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(f"{POST_PREFIX}{post_id}", record, ex=POST_TTL_S)
            self._add(pipe, f"{AUTHOR_PREFIX}{author}", post_id)
            self._add(pipe, f"{HOME_PREFIX}{author}", post_id)
            await pipe.execute()

    async def page(
        self, reader: int, limit: int, before: int | None, heavy: list[int] | None = None
    ) -> list[str]:
        """Up to `limit` records older than `before`, newest first, from the reader's home set
        and the post lists of the heavy accounts in `heavy`."""
        upper = f"({before}" if before is not None else "+inf"
        keys = [f"{HOME_PREFIX}{reader}", *(f"{AUTHOR_PREFIX}{a}" for a in heavy or ())]
        records = await self._page(keys=keys, args=[upper, limit, POST_PREFIX])
        return [str(r) for r in records if r is not None]

    def _add(self, pipe: "aioredis.client.Pipeline", key: str, post_id: int) -> None:
        pipe.zadd(key, {str(post_id): post_id})
        pipe.zremrangebyrank(key, 0, -self.max_len - 1)
