"""Accounts and the follow graph in Redis (prefix `users:`).

Heavy accounts: an account with at least `heavy_followers` followers joins the set
`users:heavy` and never leaves it (sticky, so its posts never move between the two fan-out
paths). Timeline asks for an author's fan-out targets and hears "heavy" instead of a follower
list for those (posting costs the same whatever the following), and asks for each reader's heavy
follows to merge their posts on read (docs/architecture.md).
"""

from typing import Any

import redis.asyncio as aioredis

from services.common.errors import Conflict, NotFound


def log_in_bucket(handle: str, device: str | None) -> str:
    """The key prefix under which a log-in attempt is counted: the device's own bucket when it
    showed a valid device token, else the one every other client of the handle shares."""
    return f"users:log_in:{handle}:" + (f"device:{device}" if device else "anyone")


REGISTER = """
-- KEYS: next_id, by_handle ; ARGV: handle, password_hash, created_ms
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return 0 end
local id = redis.call('INCR', KEYS[1])
redis.call('HSET', KEYS[2], ARGV[1], id)
redis.call('HSET', 'users:' .. id, 'id', id, 'handle', ARGV[1], 'pw', ARGV[2],
           'created_ms', ARGV[3])
return id
"""

HEAVY_KEY = "users:heavy"

FOLLOW = """
-- KEYS: follower's following, followee's followers, the heavy set
-- ARGV: follower id, followee id, heavy threshold
redis.call('SADD', KEYS[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
if redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[3]) then redis.call('SADD', KEYS[3], ARGV[2]) end
return 1
"""

FANOUT_TARGETS = """
-- KEYS: the heavy set, the author's followers ; ARGV: author id, heavy threshold
-- {1} for a heavy account (its followers are never listed), else {0, follower ids...}.
-- A follower set grown past the threshold by other means (a bulk seed) turns heavy here.
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return {1} end
if redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[2]) then
  redis.call('SADD', KEYS[1], ARGV[1])
  return {1}
end
local targets = redis.call('SMEMBERS', KEYS[2])
table.insert(targets, 1, 0)
return targets
"""

UNFOLLOW = """
redis.call('SREM', KEYS[1], ARGV[2])
redis.call('SREM', KEYS[2], ARGV[1])
return 1
"""

LOG_IN_ATTEMPT = """
-- KEYS: the bucket's attempts, the bucket's lock ; ARGV: attempts allowed, window ms, lockout ms
-- Counted before the password is checked, so guesses sent together cannot all be checked.
-- A lock lasts its time and no longer: attempts refused meanwhile neither count nor extend it.
local locked = redis.call('PTTL', KEYS[2])
if locked > 0 then return locked end
local attempts = redis.call('INCR', KEYS[1])
if attempts == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if attempts > tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
  return tonumber(ARGV[3])
end
return 0
"""


class UserStore:
    def __init__(self, redis: "aioredis.Redis", heavy_followers: int = 10_000) -> None:
        self.redis = redis
        self.heavy_followers = heavy_followers
        self._register = redis.register_script(REGISTER)
        self._follow = redis.register_script(FOLLOW)
        self._fanout_targets = redis.register_script(FANOUT_TARGETS)
        self._unfollow = redis.register_script(UNFOLLOW)
        self._attempt = redis.register_script(LOG_IN_ATTEMPT)

    async def register(self, handle: str, password_hash: str, created_ms: int) -> int:
        user_id = int(
            await self._register(
                keys=["users:next_id", "users:by_handle"], args=[handle, password_hash, created_ms]
            )
        )
        if user_id == 0:
            raise Conflict(f"the handle {handle!r} is taken")
        return user_id

    async def id_of(self, handle: str) -> int:
        user_id = await self.redis.hget("users:by_handle", handle)
        if user_id is None:
            raise NotFound(f"no user {handle!r}")
        return int(user_id)

    async def account(self, user_id: int) -> dict[str, Any]:
        stored = await self.redis.hgetall(f"users:{user_id}")
        record: dict[str, Any] = {str(k): v for k, v in stored.items()}
        if not record:
            raise NotFound(f"no user {user_id}")
        return record

    async def follow(self, follower: int, followee: int) -> None:
        await self._require(followee)
        await self._follow(
            keys=[f"users:{follower}:following", f"users:{followee}:followers", HEAVY_KEY],
            args=[follower, followee, self.heavy_followers],
        )

    async def unfollow(self, follower: int, followee: int) -> None:
        await self._require(followee)
        await self._unfollow(
            keys=[f"users:{follower}:following", f"users:{followee}:followers"],
            args=[follower, followee],
        )

    async def followers(self, user_id: int) -> list[int]:
        return sorted(int(i) for i in await self.redis.smembers(f"users:{user_id}:followers"))

    async def following(self, user_id: int) -> list[int]:
        return sorted(int(i) for i in await self.redis.smembers(f"users:{user_id}:following"))

    async def fanout_targets(self, author: int) -> tuple[bool, list[int]]:
        """Whether the author is heavy, and if not, whom to fan their posts out to."""
        answer = await self._fanout_targets(
            keys=[HEAVY_KEY, f"users:{author}:followers"], args=[author, self.heavy_followers]
        )
        if int(answer[0]) == 1:
            return True, []
        return False, sorted(int(i) for i in answer[1:])

    async def heavy_following(self, user_id: int) -> list[int]:
        """The heavy accounts the user follows (their posts are merged into the user's home
        timeline on read)."""
        heavy = await self.redis.sinter([f"users:{user_id}:following", HEAVY_KEY])
        return sorted(int(i) for i in heavy)

    async def begin_log_in(self, bucket: str, allowed: int, window_s: float) -> float:
        """Count an attempt in its bucket before the password is checked: 0 to go on, else the
        seconds its bucket stays locked (`allowed` attempts per window, then a lock as long)."""
        window_ms = max(1, int(window_s * 1000))
        locked_ms = await self._attempt(
            keys=[f"{bucket}:attempts", f"{bucket}:lock"], args=[allowed, window_ms, window_ms]
        )
        return int(locked_ms) / 1000

    async def log_in_succeeded(self, bucket: str) -> None:
        await self.redis.delete(f"{bucket}:attempts")

    async def _require(self, user_id: int) -> None:
        if not await self.redis.exists(f"users:{user_id}"):
            raise NotFound(f"no user {user_id}")
