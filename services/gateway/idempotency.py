"""The gateway's side of idempotency keys: the first answer given to each key (a retry must get
it back even while the service is away, and an outbox answer only the gateway knows), and the
guard against two requests with the same key at the same time (the second gets 409)."""

import contextlib
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from redis.exceptions import LockError

from services.common.errors import Conflict, Unprocessable
from services.common.idempotency import IDEMPOTENCY_TTL_S
from services.common.redis_store import GuardedRedis

IN_FLIGHT_MS = 30_000


class GatewayKeys:
    def __init__(self, redis: GuardedRedis, scope: str) -> None:
        self.redis = redis
        self.scope = scope

    def _key(self, kind: str, user_id: int, key: str) -> str:
        digest = hashlib.sha256(key.encode()).hexdigest()
        return f"gw:{kind}:{self.scope}:{user_id}:{digest}"

    @asynccontextmanager
    async def exclusive(self, user_id: int, key: str | None) -> AsyncIterator[None]:
        """Only one request with this key at a time; a concurrent one is refused with 409.
        The guard lasts IN_FLIGHT_MS at most; a request that outlives it does not remove the
        guard another request with the key has taken since (the lock holds a token of its
        holder's, and only the holder releases it)."""
        if key is None:
            yield
            return
        lock = self.redis.lock(
            self._key("inflight", user_id, key),
            timeout=IN_FLIGHT_MS / 1000,
            blocking=False,
            thread_local=False,
        )
        if not await lock.acquire():
            raise Conflict("a request with this Idempotency-Key is in progress; retry later")
        try:
            yield
        finally:
            with contextlib.suppress(LockError):  # expired: no longer ours to remove
                await lock.release()

    async def remember(
        self, user_id: int, key: str, fp: str, status: int, answer: dict[str, Any]
    ) -> None:
        record = orjson.dumps({"fp": fp, "status": status, "answer": answer})
        await self.redis.set(self._key("idem", user_id, key), record, ex=IDEMPOTENCY_TTL_S)

    async def recall(self, user_id: int, key: str | None, fp: str) -> "Recalled | None":
        """The answer first given to this key, if any; 422 for another body."""
        if key is None:
            return None
        stored = await self.redis.get(self._key("idem", user_id, key))
        if stored is None:
            return None
        record = orjson.loads(stored)
        if record["fp"] != fp:
            raise Unprocessable("this Idempotency-Key was used with another request body")
        return Recalled(int(record["status"]), record["answer"])


@dataclass(frozen=True)
class Recalled:
    status: int
    answer: dict[str, Any]
