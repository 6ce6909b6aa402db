"""The gateway's downstream services, opened once per app and reached through `Downstream`."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

from services.common.auth import ServiceCredential, TokenKeys
from services.common.downstream import Downstream, open_http_client
from services.common.metrics import ServiceMetrics
from services.common.replicas import ReplicaSet
from services.gateway.discovery import (
    DiscoveryName,
    ReplicaDiscovery,
    Resolver,
    SystemResolver,
)
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
    # Set when the timeline replicas are discovered by name rather than listed.
    discovery: ReplicaDiscovery | None = None

    def all(self) -> list[Downstream]:
        return [
            self.users, self.posts, *self.timeline.replicas, self.dms, self.trends, self.logins,
        ]  # fmt: skip


def _replica_name(index: int, url: str) -> str:
    host = urlsplit(url).hostname or ""
    return host if host.startswith("timeline") else f"timeline-{index + 1}"


@asynccontextmanager
async def open_backends(
    settings: GatewaySettings,
    keys: TokenKeys,
    metrics: ServiceMetrics,
    resolver: Resolver | None = None,
) -> AsyncIterator[Backends]:
    """`resolver` finds the timeline replicas when `timeline_discovery` names them (the
    system's resolver unless given)."""
    async with open_http_client() as http:
        credential = ServiceCredential(keys, settings.service_name)

        resilient = settings.resilience == "on"

        def downstream(name: str, url: str, policy: str) -> Downstream:
            return Downstream(
                name, url, http, credential, metrics, POLICIES[policy], resilient=resilient
            )

        def users_and_others(timeline: ReplicaSet) -> Backends:
            return Backends(
                users=downstream("users", settings.users_url, "users"),
                posts=downstream("posts", settings.posts_url, "posts"),
                timeline=timeline,
                dms=downstream("dms", settings.dms_url, "dms"),
                trends=downstream("trends", settings.trends_url, "trends"),
                logins=downstream("users-logins", settings.users_url, "logins"),
            )

        if not settings.timeline_discovery:
            replicas = [
                downstream(_replica_name(i, url), url, "timeline")
                for i, url in enumerate(settings.timeline_replicas())
            ]
            yield users_and_others(ReplicaSet("timeline", replicas))
            return
        timeline = ReplicaSet.empty("timeline", resilient)
        discovery = ReplicaDiscovery(
            DiscoveryName.parse(settings.timeline_discovery),
            timeline,
            lambda name, url: downstream(name, url, "timeline"),
            resolver or SystemResolver(),
            settings.timeline_discovery_interval_s,
        )
        backends = users_and_others(timeline)
        backends.discovery = discovery
        async with _discovering(discovery):
            yield backends


@asynccontextmanager
async def _discovering(discovery: ReplicaDiscovery) -> AsyncIterator[None]:
    """The replicas found once before the first request (as far as one bounded lookup goes),
    then looked up again in the background until the app stops."""
    await discovery.refresh()
    task = asyncio.create_task(discovery.run(), name="timeline-discovery")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        discovery.resolver.close()
