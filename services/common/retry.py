"""Retries with exponential backoff and full jitter, only within a time budget."""

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3  # first try included
    base_s: float = 0.05
    max_s: float = 0.5

    def backoff_s(self, retry: int, rng: random.Random | None = None) -> float:
        """Pause before retry number `retry` (1 for the first retry): uniform in [0, cap]."""
        cap = min(self.max_s, self.base_s * 2 ** (retry - 1))
        return (rng or random).uniform(0, cap)


IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


def is_idempotent(method: str, headers: dict[str, str] | None) -> bool:
    """A call may be repeated when its method is, or when it carries an idempotency key."""
    if method.upper() in IDEMPOTENT_METHODS:
        return True
    return bool(headers) and any(k.lower() == "idempotency-key" for k in headers or {})
