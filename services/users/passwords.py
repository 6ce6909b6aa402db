"""Password hashing with argon2id, off the event loop (a hash takes tens of milliseconds)."""

from anyio import CapacityLimiter, to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

HASHES_AT_ONCE = 4


class Passwords:
    def __init__(self, time_cost: int, memory_kib: int) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)
        # Each hash takes its memory cost in RAM: a few at a time, the rest wait their turn.
        self._limiter = CapacityLimiter(HASHES_AT_ONCE)
        # Unknown handles are checked against this, so a login takes as long either way.
        self._decoy = self._hasher.hash("decoy-password-never-matches")

    async def hash(self, password: str) -> str:
        return await to_thread.run_sync(self._hasher.hash, password, limiter=self._limiter)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        return await to_thread.run_sync(
            self._verify, stored_hash or self._decoy, password, limiter=self._limiter
        )

    def _verify(self, stored_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash, password) and stored_hash != self._decoy
        except (VerificationError, InvalidHashError):
            return False
