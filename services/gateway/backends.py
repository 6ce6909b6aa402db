"""The gateway's downstream services, opened once per app and reached through `Downstream`."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

from services.common.auth import ServiceCredential, TokenKeys
from services.common.downstream import Downstream, open_http_client
from services.common.metrics import ServiceMetrics
from services.common.replicas import ReplicaSet
from services.gateway.policies import POLICIES
from services.gateway.settings import GatewaySettings


@dataclass
class Backends:
    """`logins` is users too, reached for log-ins only, with its own bulkhead and breaker."""

    users: Downstream
    posts: Downstream
    timeline: ReplicaSet
    dms: Downstream
    trends: Downstream
    logins: Downstream

    def all(self) -> list[Downstream]:
        return [
            self.users, self.posts, *self.timeline.replicas, self.dms, self.trends, self.logins,
        ]  # fmt: skip


def _replica_name(index: int, url: str) -> str:
    host = urlsplit(url).hostname or ""
    return host if host.startswith("timeline") else f"timeline-{index + 1}"


@asynccontextmanager
async def open_backends(
    settings: GatewaySettings, keys: TokenKeys, metrics: ServiceMetrics
) -> AsyncIterator[Backends]:
    async with open_http_client() as http:
        credential = ServiceCredential(keys, settings.service_name)

        resilient = settings.resilience == "on"

        def downstream(name: str, url: str, policy: str) -> Downstream:
            return Downstream(
                name, url, http, credential, metrics, POLICIES[policy], resilient=resilient
            )

        replicas = [
            downstream(_replica_name(i, url), url, "timeline")
            for i, url in enumerate(settings.timeline_replicas())
        ]
        yield Backends(
            users=downstream("users", settings.users_url, "users"),
            posts=downstream("posts", settings.posts_url, "posts"),
            timeline=ReplicaSet("timeline", replicas),
            dms=downstream("dms", settings.dms_url, "dms"),
            trends=downstream("trends", settings.trends_url, "trends"),
            logins=downstream("users-logins", settings.users_url, "logins"),
        )
