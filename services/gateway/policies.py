"""The gateway's policy for each dependency. docs/resilience.md explains each value."""

from services.common.breaker import BreakerConfig
from services.common.policy import EdgePolicy
from services.common.retry import RetryPolicy

CORE = EdgePolicy(
    connect_timeout_s=0.25,
    read_timeout_s=1.0,
    deadline_s=2.0,
    retry=RetryPolicy(attempts=3, base_s=0.05, max_s=0.4),
    breaker=BreakerConfig(fail_max=5, reset_timeout_s=5.0),
    max_concurrent=64,
)

# Replicas fail over to each other instead of retrying themselves, and are ejected sooner.
TIMELINE_REPLICA = EdgePolicy(
    connect_timeout_s=0.25,
    read_timeout_s=0.5,
    deadline_s=0.6,
    retry=RetryPolicy(attempts=1),
    breaker=BreakerConfig(fail_max=3, reset_timeout_s=3.0),
    max_concurrent=64,
)

# Ancillary: never worth making a user wait.
TRENDS = EdgePolicy(
    connect_timeout_s=0.1,
    read_timeout_s=0.3,
    deadline_s=0.35,
    retry=RetryPolicy(attempts=1),
    breaker=BreakerConfig(fail_max=3, reset_timeout_s=10.0),
    max_concurrent=16,
)

# Log-ins to users: the core edge, with a bulkhead of their own. A log-in holds its slot for a
# password hash (tens of milliseconds each, a few at a time in users), so a flood of log-ins
# would otherwise fill the users bulkhead and turn follows, handle look-ups and sign-ups into
# `bulkhead-full` 503s. Past this limit log-ins wait their turn, up to 64 of them for at most
# 2 s each (the burst of a load or a class starting together, dozens of devices logging in at
# once), and only a flood beyond that is refused at once.
LOGINS = EdgePolicy(
    connect_timeout_s=CORE.connect_timeout_s,
    read_timeout_s=CORE.read_timeout_s,
    deadline_s=CORE.deadline_s,
    retry=CORE.retry,
    breaker=CORE.breaker,
    max_concurrent=16,
    max_waiting=64,
    max_wait_s=2.0,
)

POLICIES = {
    "users": CORE,
    "logins": LOGINS,
    "posts": CORE,
    "dms": CORE,
    "timeline": TIMELINE_REPLICA,
    "trends": TRENDS,
}
