"""Accounts and the follow graph in Redis (prefix `users:`)."""

from typing import Any

import redis.asyncio as aioredis

from services.common.errors import Conflict, NotFound

REGISTER = """
-- KEYS: next_id, by_handle ; ARGV: handle, password_hash, created_ms
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return 0 end
local id = redis.call('INCR', KEYS[1])
redis.call('HSET', KEYS[2], ARGV[1], id)
redis.call('HSET', 'users:' .. id, 'id', id, 'handle', ARGV[1], 'pw', ARGV[2],
           'created_ms', ARGV[3])
return id
"""

FOLLOW = """
-- KEYS: follower's following, followee's followers ; ARGV: follower id, followee id
redis.call('SADD', KEYS[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
return 1
"""

UNFOLLOW = """
redis.call('SREM', KEYS[1], ARGV[2])
redis.call('SREM', KEYS[2], ARGV[1])
return 1
"""


class UserStore:
    def __init__(self, redis: "aioredis.Redis") -> None:
        self.redis = redis
        self._register = redis.register_script(REGISTER)
        self._follow = redis.register_script(FOLLOW)
        self._unfollow = redis.register_script(UNFOLLOW)

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
            keys=[f"users:{follower}:following", f"users:{followee}:followers"],
            args=[follower, followee],
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

    async def login_failures(self, handle: str) -> int:
        return int(await self.redis.get(f"users:login_failures:{handle}") or 0)

    async def count_login_failure(self, handle: str, window_s: int) -> int:
        key = f"users:login_failures:{handle}"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, window_s)
            failures, _ = await pipe.execute()
        return int(failures)

    async def clear_login_failures(self, handle: str) -> None:
        await self.redis.delete(f"users:login_failures:{handle}")

    async def _require(self, user_id: int) -> None:
        if not await self.redis.exists(f"users:{user_id}"):
            raise NotFound(f"no user {user_id}")
