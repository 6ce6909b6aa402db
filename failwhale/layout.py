"""Where each service of the stack listens, as local processes."""

import random
import socket
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str
    port: int


@dataclass(frozen=True)
class LocalLayout:
    """Ports of a local stack: the gateway on `base_port`, the others after it, Redis apart."""

    base_port: int = 8080
    redis_port: int = 6390
    redis_password: str = "failwhale-dev"
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
            ServiceSpec(name, f"services.{package}.app", self.base_port + offset)
            for offset, (name, package) in enumerate(names)
        )
        object.__setattr__(self, "services", specs)

    def url(self, name: str) -> str:
        return f"http://{self.host}:{self.port(name)}"

    def port(self, name: str) -> int:
        return next(s.port for s in self.services if s.name == name)

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
            "FAILWHALE_USERS_URL": self.url("users"),
            "FAILWHALE_POSTS_URL": self.url("posts"),
            "FAILWHALE_TIMELINE_URLS": f"{self.url('timeline-1')},{self.url('timeline-2')}",
            "FAILWHALE_DMS_URL": self.url("dms"),
            "FAILWHALE_TRENDS_URL": self.url("trends"),
            # A testbed: the chaos fault hook is there to be used (off in the services' defaults).
            "FAILWHALE_FAULT_HOOK": "on",
        }


def free_layout(attempts: int = 50) -> LocalLayout:
    """A layout on ports nothing listens on now (for tests and side-by-side stacks)."""

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
        base = random.randrange(20_000, 32_000, 10)
        ports = [*range(base, base + 7), base + 9]
        if all(free(p) for p in ports):
            return LocalLayout(base_port=base, redis_port=base + 9)
    raise RuntimeError("no free ports for a local stack")
