"""How one service treats one dependency: timeouts, retries, breaker and bulkhead sizes."""

from dataclasses import dataclass, field

from services.common.breaker import BreakerConfig
from services.common.retry import RetryPolicy

# With the layer off, a call waits as long as a user would (and then some), with no guard.
UNGUARDED_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class EdgePolicy:
    connect_timeout_s: float = 0.25
    read_timeout_s: float = 1.0
    deadline_s: float = 2.0  # the whole call, retries included
    slow_timeout_s: float = 5.0  # calls that are slow by nature (password hashing)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    breaker: BreakerConfig = field(default_factory=BreakerConfig)
    max_concurrent: int = 64
    # Callers who may wait for a slot when all are taken, and for how long (0: refused at once).
    max_waiting: int = 0
    max_wait_s: float = 0.0
