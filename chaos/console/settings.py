"""The agent's settings (environment variables FAILWHALE_*). The console token has no default:
the agent refuses to start without one. It may come from a file named by
FAILWHALE_CONSOLE_TOKEN_FILE (a swarm secret), read as the services read theirs."""

import os
from pathlib import Path
from typing import Literal

from pydantic import Field

from chaos.backends import backend_for
from chaos.backends.base import Backend
from services.common.settings import SecretFileSettings

REPO = Path(__file__).resolve().parents[2]
MIN_TOKEN_LENGTH = 16
# How the agent reaches the gateway and the Locust master from inside the stack's network.
STACK_URLS = {
    "docker": ("http://gateway:8000", "http://locust-master:8089"),
    "swarm": ("http://gateway:8000", "http://locust:8089"),
}
GATEWAY_VARIABLE, LOCUST_VARIABLE = "FAILWHALE_STACK_GATEWAY_URL", "FAILWHALE_STACK_LOCUST_URL"


class ConsoleTokenMissing(ValueError):
    """The agent must not start: the message says why, in one line, without the token."""


class AgentSettings(SecretFileSettings):
    console_token: str = Field("", repr=False)
    chaos_backend: Literal["docker", "swarm", "local"] = "docker"
    # The compose project, swarm stack or local workdir; empty: COMPOSE_PROJECT_NAME (docker,
    # swarm) or the local stack's default workdir.
    chaos_scope: str = ""
    stack_gateway_url: str = ""
    stack_locust_url: str = ""
    reports_dir: Path = REPO / "reports"

    def require_token(self) -> None:
        if not self.console_token:
            raise ConsoleTokenMissing(
                "the chaos agent needs FAILWHALE_CONSOLE_TOKEN (or FAILWHALE_CONSOLE_TOKEN_FILE): "
                "`make up` generates one into .env"
            )
        if len(self.console_token) < MIN_TOKEN_LENGTH:
            raise ConsoleTokenMissing(
                f"FAILWHALE_CONSOLE_TOKEN is shorter than {MIN_TOKEN_LENGTH} characters: "
                "too easy to guess"
            )

    def stack_urls(self) -> dict[str, str]:
        """The variables the backends read to reach the gateway and the Locust master inside
        the stack (docker, swarm): set ones win, else the stack's own service names. The local
        backend reaches its processes as the host does, unless set."""
        gateway, locust = STACK_URLS.get(self.chaos_backend, ("", ""))
        urls = {
            GATEWAY_VARIABLE: self.stack_gateway_url or gateway,
            LOCUST_VARIABLE: self.stack_locust_url or locust,
        }
        return {name: url for name, url in urls.items() if url}


def worker_env(settings: AgentSettings) -> dict[str, str]:
    """The environment of a run's own process (chaos.console.run_worker): these settings, the
    stack's URLs, and never the console token (a run has no use for it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAILWHALE_CONSOLE_TOKEN")}
    env.update(
        FAILWHALE_CHAOS_BACKEND=settings.chaos_backend,
        FAILWHALE_CHAOS_SCOPE=settings.chaos_scope,
        FAILWHALE_REPORTS_DIR=str(settings.reports_dir),
        **settings.stack_urls(),
    )
    return env


def export_stack_urls(settings: AgentSettings) -> None:
    """The backends read the stack's URLs from the environment (the CLI leaves them unset)."""
    for name, url in settings.stack_urls().items():
        os.environ[name] = url


def open_backend(settings: AgentSettings) -> Backend:
    """The backend of the stack the agent serves, as `failwhale chaos run --backend` opens it
    (FaultError when it cannot be used at all)."""
    export_stack_urls(settings)
    scope = settings.chaos_scope or None
    if settings.chaos_backend == "local":
        return backend_for("local", workdir=Path(scope) if scope else None)
    return backend_for(settings.chaos_backend, project=scope)
