"""Where each service of the stack listens, as local processes, and the secrets it runs with.

Each service has its public port and, for the chaos fault hook, an internal one
(`INTERNAL_OFFSET` above it), both on 127.0.0.1. A layout carries the stack's token, internal
and Redis secrets: the user's stack (`LocalLayout.of_checkout`) takes those of the checkout's
`.env` (stack.env_secrets), a layout made any other way (tests, side-by-side stacks) fresh
random ones of its own. No layout ever runs with a published value.
"""

import os
import random
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stack import env_secrets

INTERNAL_OFFSET = 20  # a service's internal listener: its public port plus this
HEAVY_FOLLOWERS_ENV = "FAILWHALE_HEAVY_FOLLOWERS"
STACK_HEAVY_FOLLOWERS = "10"  # the same default as docker-compose.yml's


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str
    port: int
    internal_port: int


@dataclass(frozen=True)
class LocalLayout:
    """Ports of a local stack: the gateway on `base_port`, the others after it, Redis apart."""

    base_port: int = 8080
    redis_port: int = 6390
    redis_password: str = field(default_factory=env_secrets.new_secret, repr=False)
    token_secret: str = field(default_factory=env_secrets.new_secret, repr=False)
    internal_secret: str = field(default_factory=env_secrets.new_secret, repr=False)
    host: str = "127.0.0.1"
    services: tuple[ServiceSpec, ...] = field(init=False)

    def __post_init__(self) -> None:
        names = [
            ("gateway", "gateway"),
            ("users", "users"),
            ("posts", "posts"),
            ("timeline-1", "timeline"),
            ("timeline-2", "timeline"),
            ("dms", "dms"),
            ("trends", "trends"),
        ]
        specs = tuple(
            ServiceSpec(
                name,
                f"services.{package}.app",
                self.base_port + offset,
                self.base_port + offset + INTERNAL_OFFSET,
            )
            for offset, (name, package) in enumerate(names)
        )
        object.__setattr__(self, "services", specs)

    @classmethod
    def of_checkout(cls, env_file: Path = env_secrets.DEFAULT_FILE, **ports: Any) -> "LocalLayout":
        """The user's stack: the secrets of the checkout's `.env` (or the environment),
        generated into `.env` on first use."""
        values = env_secrets.stack_values(env_file)
        return cls(
            **ports,
            token_secret=values[env_secrets.TOKEN_SECRET],
            internal_secret=values[env_secrets.INTERNAL_SECRET],
            redis_password=values[env_secrets.REDIS_PASSWORD],
        )

    @classmethod
    def from_state(
        cls, state: dict[str, Any], env_file: Path = env_secrets.DEFAULT_FILE
    ) -> "LocalLayout":
        """The layout a stack's state file recorded (`state()`); one recorded without its
        secrets is the user's stack, whose secrets are the checkout's."""
        ports: dict[str, Any] = {
            k: int(state[k]) for k in ("base_port", "redis_port") if k in state
        }
        if all(state.get(k) for k in ("token_secret", "internal_secret", "redis_password")):
            return cls(
                **ports,
                token_secret=state["token_secret"],
                internal_secret=state["internal_secret"],
                redis_password=state["redis_password"],
            )
        return cls.of_checkout(env_file, **ports)

    def state(self) -> dict[str, Any]:
        """What a state file keeps to find this stack again (its secrets included: the file
        is written private)."""
        return {
            "base_port": self.base_port,
            "redis_port": self.redis_port,
            "token_secret": self.token_secret,
            "internal_secret": self.internal_secret,
            "redis_password": self.redis_password,
        }

    def url(self, name: str) -> str:
        return f"http://{self.host}:{self.port(name)}"

    def port(self, name: str) -> int:
        return self.spec(name).port

    def internal_url(self, name: str) -> str:
        """The service's internal listener (the fault hook), never its public port."""
        return f"http://{self.host}:{self.spec(name).internal_port}"

    def spec(self, name: str) -> ServiceSpec:
        for spec in self.services:
            if spec.name == name:
                return spec
        raise KeyError(name)

    @property
    def redis_url(self) -> str:
        return f"redis://:{self.redis_password}@{self.host}:{self.redis_port}/0"

    @property
    def gateway_url(self) -> str:
        return self.url("gateway")

    def environment(self, service: str) -> dict[str, str]:
        """The settings of one service of this stack, as environment variables."""
        return {
            "FAILWHALE_SERVICE_NAME": service,
            "FAILWHALE_REDIS_URL": self.redis_url,
            "FAILWHALE_TOKEN_SECRET": self.token_secret,
            "FAILWHALE_INTERNAL_SECRET": self.internal_secret,
            "FAILWHALE_USERS_URL": self.url("users"),
            "FAILWHALE_POSTS_URL": self.url("posts"),
            "FAILWHALE_TIMELINE_URLS": f"{self.url('timeline-1')},{self.url('timeline-2')}",
            "FAILWHALE_DMS_URL": self.url("dms"),
            "FAILWHALE_TRENDS_URL": self.url("trends"),
            # A testbed: the chaos fault hook is there to be used (off in the services' defaults),
            # on the service's own internal port.
            "FAILWHALE_FAULT_HOOK": "on",
            # Heavy accounts (merged into timelines on read) from this many followers: low in the
            # testbed, so the load's celebrities are heavy (docs/architecture.md).
            "FAILWHALE_HEAVY_FOLLOWERS": os.environ.get(HEAVY_FOLLOWERS_ENV, STACK_HEAVY_FOLLOWERS),
            "FAILWHALE_INTERNAL_HOST": self.host,
            "FAILWHALE_INTERNAL_PORT": str(self.spec(service).internal_port),
        }


def free_layout(attempts: int = 50) -> LocalLayout:
    """A layout on ports nothing listens on now, with fresh secrets of its own (for tests and
    side-by-side stacks)."""

    def free(port: int) -> bool:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return False
            return True

    for _ in range(attempts):
        # Below Linux's ephemeral range (32768 and up by default): a port free now in that
        # range can become the local end of some outgoing connection before uvicorn binds it.
        base = random.randrange(20_000, 32_000, 30)
        layout = LocalLayout(base_port=base, redis_port=base + 9)
        ports = [layout.redis_port]
        ports += [p for spec in layout.services for p in (spec.port, spec.internal_port)]
        if all(free(p) for p in ports):
            return layout
    raise RuntimeError("no free ports for a local stack")
