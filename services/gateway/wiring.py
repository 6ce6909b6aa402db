"""Everything the gateway's routes use, built once per app from its settings and backends."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from services.common.instance import instance_name
from services.common.metrics import ServiceMetrics
from services.common.redis_store import GuardedRedis
from services.gateway.backends import Backends
from services.gateway.degraded import Degradations
from services.gateway.directory import HandleDirectory
from services.gateway.drainer import Drainer, hand_over
from services.gateway.idempotency import GatewayKeys
from services.gateway.lease import Lease
from services.gateway.outbox import Outbox, PostIds
from services.gateway.reads import LastGoodReads, TimelineReader
from services.gateway.settings import GatewaySettings
from services.gateway.trends import TrendsReader
from services.gateway.writes import DmWriter, PostWriter, pending_key_of

# How long an outbox's drainer keeps its lease without renewing it: above the longest single
# delivery (a call's deadline, 2 s), so that a drainer at work never loses it.
LEASE_TTL_S = 5.0


@dataclass
class Gateway:
    backends: Backends
    directory: HandleDirectory
    degradations: Degradations
    reads: LastGoodReads
    timeline: TimelineReader
    trends: TrendsReader
    posts: PostWriter
    dms: DmWriter
    outboxes: list[Outbox]
    resilient: bool
    drainers: list[Drainer] = field(default_factory=list)


@asynccontextmanager
async def run_gateway(
    settings: GatewaySettings, backends: Backends, redis: GuardedRedis, metrics: ServiceMetrics
) -> AsyncIterator[Gateway]:
    resilient = settings.resilience == "on"
    degradations = Degradations(metrics)
    reads = LastGoodReads(degradations, resilient, settings.last_good_bytes)
    post_outbox = Outbox(redis, "posts", metrics)
    dm_outbox = Outbox(redis, "dms", metrics)
    gateway = Gateway(
        backends=backends,
        directory=HandleDirectory(backends.users, settings.handle_cache_size),
        degradations=degradations,
        reads=reads,
        timeline=TimelineReader(
            backends.timeline,
            backends.users,
            backends.posts,
            reads,
            degradations,
            settings.follow_lists_bytes,
        ),
        trends=TrendsReader(backends.trends, degradations, resilient),
        posts=PostWriter(
            backends.posts,
            post_outbox,
            PostIds(redis),
            GatewayKeys(redis, "posts"),
            degradations,
            resilient,
        ),
        dms=DmWriter(backends.dms, dm_outbox, GatewayKeys(redis, "dms"), degradations, resilient),
        outboxes=[post_outbox, dm_outbox],
        resilient=resilient,
    )
    holder = instance_name(settings.service_name)

    def lease(outbox: Outbox) -> Lease:
        return Lease(redis, f"{outbox.stream}:lease", holder, LEASE_TTL_S)

    drainers = gateway.drainers = [
        Drainer(post_outbox, gateway.posts.deliver, lease(post_outbox)),
        Drainer(dm_outbox, gateway.dms.deliver, lease(dm_outbox), pending_key_of),
    ]
    # With the layer off there is no outbox to fill, but one left from an earlier run is
    # still delivered: accepted writes are never abandoned.
    tasks = [asyncio.create_task(d.supervise(), name=f"drain-{d.outbox.name}") for d in drainers]
    try:
        yield gateway
    finally:
        await gateway.timeline.follows.close()
        await gateway.trends.close()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for drainer in drainers:
            await hand_over(drainer)
