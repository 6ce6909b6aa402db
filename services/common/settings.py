"""Settings every service reads; each service subclasses `ServiceSettings` with its own prefix.

No secret has a usable default: a service refuses to start (`refuse_unsafe_secrets`) without a
token secret and an internal secret of its own, and with a value that was once published with
the project or is too short to resist guessing, unless `FAILWHALE_DEV_SECRETS=1` says on purpose
that it is a throwaway development stack.

A secret may also come from a file: `FAILWHALE_<NAME>_FILE` names it (an orchestrator's secret,
e.g. /run/secrets/... on Docker Swarm), so the value never sits in the environment. The variable
itself, when set, wins over the file.
"""

import os
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

# Values published with earlier versions of the project: anyone can sign tokens with them.
DEV_TOKEN_SECRET = "failwhale-dev-token-secret-change-me-0123456789"
DEV_INTERNAL_SECRET = "failwhale-dev-internal-secret-change-me-0123456789"
DEV_REDIS_PASSWORD = "failwhale-dev"
PUBLISHED_SECRETS = frozenset({DEV_TOKEN_SECRET, DEV_INTERNAL_SECRET, DEV_REDIS_PASSWORD})
MIN_SECRET_LENGTH = 32
DEFAULT_INTERNAL_PORT = 8001


def shared(name: str, default: Any, *, secret: bool = False) -> Any:
    """A setting with one environment name for every service (`FAILWHALE_<NAME>`), whatever the
    service's own prefix; tests pass it by field name. A secret stays out of reprs."""
    alias = AliasChoices(f"FAILWHALE_{name.upper()}")
    return Field(default, validation_alias=alias, repr=not secret)


class SecretFiles(PydanticBaseSettingsSource):
    """The secret settings (those kept out of reprs) named by `FAILWHALE_<NAME>_FILE`."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        variable = f"FAILWHALE_{field_name.upper()}_FILE"
        path = os.environ.get(variable) if not field.repr else None
        if not path:
            return None, field_name, False
        try:
            # A secret file written by hand often ends with a newline; the value never does.
            return Path(path).read_text().strip(), field_name, False
        except OSError as exc:
            raise UnsafeSecrets(f"{variable}={path} cannot be read ({exc.strerror})") from None

    def __call__(self) -> dict[str, Any]:
        values = {}
        for name, field in self.settings_cls.model_fields.items():
            value, _, _ = self.get_field_value(field, name)
            if value is not None:
                values[name] = value
        return values


class SecretFileSettings(BaseSettings):
    """`FAILWHALE_*` settings from the environment, each secret also from the file
    `FAILWHALE_<NAME>_FILE` names (the variable wins): the base of the settings of the processes
    beside the services (the chaos agent, the console in the Locust master)."""

    model_config = SettingsConfigDict(
        env_prefix="FAILWHALE_", extra="ignore", hide_input_in_errors=True
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, SecretFiles(settings_cls))


class ServiceSettings(BaseSettings):
    """Settings common to all services. Subclasses set `env_prefix` for their own fields."""

    model_config = SettingsConfigDict(
        env_prefix="FAILWHALE_", populate_by_name=True, extra="ignore", hide_input_in_errors=True
    )

    service_name: str = shared("service_name", "chirp")
    redis_url: str = shared("redis_url", "redis://localhost:6379/0", secret=True)
    redis_max_connections: int = shared("redis_max_connections", 64)
    redis_timeout_s: float = shared("redis_timeout_s", 1.0)
    # Empty means not set: refused at start (refuse_unsafe_secrets).
    token_secret: str = shared("token_secret", "", secret=True)
    internal_secret: str = shared("internal_secret", "", secret=True)
    # A throwaway development stack may run with published or short secrets; never unset ones.
    dev_secrets: bool = shared("dev_secrets", False)
    resilience: Literal["on", "off"] = shared("resilience", "on")
    log_level: str = shared("log_level", "INFO")
    # The chaos fault hook (services.common.fault_hook): off unless asked for. When on, it is
    # served on a listener of its own, never on the service's public port.
    fault_hook: bool = shared("fault_hook", False)
    internal_host: str = shared("internal_host", "127.0.0.1")
    internal_port: int = shared("internal_port", DEFAULT_INTERNAL_PORT)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            SecretFiles(settings_cls),
            dotenv_settings,
            file_secret_settings,
        )


class UnsafeSecrets(ValueError):
    """Settings a service must not start with: the message says why, in one line."""


def secret_problems(settings: ServiceSettings) -> list[str]:
    """What is wrong with the service's secrets, one phrase each; [] when nothing is."""
    problems = []
    for variable, value in (
        ("FAILWHALE_TOKEN_SECRET", settings.token_secret),
        ("FAILWHALE_INTERNAL_SECRET", settings.internal_secret),
    ):
        if not value:
            problems.append(f"{variable} is not set")
        elif settings.dev_secrets:
            continue
        elif value in PUBLISHED_SECRETS:
            problems.append(f"{variable} is a published development value")
        elif len(value) < MIN_SECRET_LENGTH:
            problems.append(f"{variable} is shorter than {MIN_SECRET_LENGTH} characters")
    password = urlsplit(settings.redis_url).password
    if password in PUBLISHED_SECRETS and not settings.dev_secrets:
        problems.append("FAILWHALE_REDIS_URL holds a published development password")
    return problems


def refuse_unsafe_secrets(settings: ServiceSettings) -> None:
    """Raises UnsafeSecrets (one line naming every problem) unless the secrets are real ones."""
    problems = secret_problems(settings)
    if problems:
        raise UnsafeSecrets(
            f"{settings.service_name} refuses to start: {'; '.join(problems)} (make up or "
            "make up-local writes random secrets into .env; FAILWHALE_DEV_SECRETS=1 accepts "
            "published or short ones on a throwaway stack)"
        )


Settings = TypeVar("Settings", bound=ServiceSettings)


def settings_from_environment(settings_class: type[Settings]) -> Settings:
    """The settings of a service process, read from its environment. Unsafe secrets end the
    process with their one-line reason (a SystemExit: no traceback), before anything starts."""
    try:
        settings = settings_class()
        refuse_unsafe_secrets(settings)
    except UnsafeSecrets as exc:
        raise SystemExit(str(exc)) from None
    return settings
