"""Settings every service reads; each service subclasses `ServiceSettings` with its own prefix."""

from typing import Any, Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_TOKEN_SECRET = "failwhale-dev-token-secret-change-me-0123456789"
DEV_INTERNAL_SECRET = "failwhale-dev-internal-secret-change-me-0123456789"


def shared(name: str, default: Any) -> Any:
    """A setting with one environment name for every service (`FAILWHALE_<NAME>`), whatever the
    service's own prefix; tests pass it by field name."""
    return Field(default, validation_alias=AliasChoices(f"FAILWHALE_{name.upper()}"))


class ServiceSettings(BaseSettings):
    """Settings common to all services. Subclasses set `env_prefix` for their own fields."""

    model_config = SettingsConfigDict(
        env_prefix="FAILWHALE_", populate_by_name=True, extra="ignore"
    )

    service_name: str = shared("service_name", "chirp")
    redis_url: str = shared("redis_url", "redis://localhost:6379/0")
    redis_max_connections: int = shared("redis_max_connections", 64)
    redis_timeout_s: float = shared("redis_timeout_s", 1.0)
    token_secret: str = shared("token_secret", DEV_TOKEN_SECRET)
    internal_secret: str = shared("internal_secret", DEV_INTERNAL_SECRET)
    resilience: Literal["on", "off"] = shared("resilience", "on")
    log_level: str = shared("log_level", "INFO")
    # The chaos fault hook (services.common.fault_hook): off unless asked for.
    fault_hook: bool = shared("fault_hook", False)
