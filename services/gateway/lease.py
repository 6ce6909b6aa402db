"""A lease in Redis: at most one holder at a time among the gateway's replicas, for as long as
it keeps renewing it (`ttl_s`), so that a holder that dies or stalls hands over on its own.

The outbox drainers take one each (`gw:outbox:<name>:lease`): every replica runs a drainer,
one delivers, the others stand by. The holder renews before each delivery, and a drainer that
finds the lease gone (it stalled longer than the lease lasts) stops before its next one.
"""

from services.common.redis_store import GuardedRedis

TAKE_OR_RENEW = """
-- KEYS: the lease ; ARGV: holder, ttl ms. 1 when the holder has it (now renewed), else 0.
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""

GIVE_UP = """
-- KEYS: the lease ; ARGV: holder. Only the holder removes it.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Lease:
    def __init__(self, redis: GuardedRedis, key: str, holder: str, ttl_s: float) -> None:
        self.key = key
        self.holder = holder
        self.ttl_ms = int(ttl_s * 1000)
        self.held = False
        self._take = redis.register_script(TAKE_OR_RENEW)
        self._give_up = redis.register_script(GIVE_UP)

    async def hold(self) -> bool:
        """Take the lease, or renew it if this holder has it; whether it does now."""
        self.held = bool(int(await self._take(keys=[self.key], args=[self.holder, self.ttl_ms])))
        return self.held

    async def release(self) -> None:
        self.held = False
        await self._give_up(keys=[self.key], args=[self.holder])
