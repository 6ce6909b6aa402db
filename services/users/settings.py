from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings, shared


class UsersSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="FAILWHALE_USERS_", populate_by_name=True)

    service_name: str = shared("service_name", "users")
    # argon2id, a little under OWASP's minimum memory so that a seeded graph of thousands of
    # accounts registers in seconds; raise for anything but a testbed.
    hash_time_cost: int = 2
    hash_memory_kib: int = 19 * 1024
    # Log-in attempts per bucket (one per known device of a handle, one for everyone else)
    # within a window of `login_lockout_s`; one more locks that bucket for `login_lockout_s`.
    login_failures_before_lockout: int = 10
    login_lockout_s: float = 60.0
    device_ttl_s: int = 90 * 24 * 3600
    # An account with at least this many followers is heavy (sticky): its posts are merged into
    # its followers' home timelines on read instead of written into each (docs/architecture.md).
    heavy_followers: int = shared("heavy_followers", 10_000)
