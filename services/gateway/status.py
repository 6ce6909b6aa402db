"""`GET /v1/status`: how each dependency is doing, as the gateway sees it. Nothing private."""

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel

from services.common.instance import instance_name
from services.common.redis_store import REDIS_OUTAGES
from services.gateway.admission import Admission
from services.gateway.deps import GatewayDep
from services.gateway.discovery import ReplicaDiscovery
from services.gateway.outbox import Outbox

router = APIRouter(prefix="/v1", tags=["status"])


class DependencyStatus(BaseModel):
    name: str
    breaker: Literal["closed", "open", "half-open", "none"]
    error_rate: float
    calls: int
    degraded: bool


class DrainerStatus(BaseModel):
    running: bool
    restarts: int
    last_error: str | None
    # Whether this replica holds the outbox's lease (it delivers; the others stand by).
    leader: bool = False


class DiscoveryStatus(BaseModel):
    """The timeline replicas found by name: each one's name and address."""

    name: str
    replicas: dict[str, str]
    lookups: int
    last_error: str | None


class AdmissionStatus(BaseModel):
    """The gateway's admission control: its adaptive limit now and the event-loop lag it
    follows, requests worked on and waiting, and those shed since start, by reason
    (queue-full, queue-timeout, client-gone: a bodiless request whose client had left)."""

    limit: int
    loop_lag_ms: float
    in_flight: int
    max_waiting: int
    waiting: int
    # Whether requests waited for a place throughout the last interval (a standing queue: each
    # then waits at most the short timeout).
    standing_queue: bool
    shed: dict[str, int]


class Status(BaseModel):
    service: str
    # Which replica answered (`service@host:pid`): replicas share the service's name, and each
    # answers for itself (its breakers, its outbox drainers' roles).
    instance: str
    resilience: Literal["on", "off"]
    window_s: float
    dependencies: list[DependencyStatus]
    outbox_depth: dict[str, int | None]
    # Each outbox's drainer: not running between a failure and its next clean pass.
    outbox_drainers: dict[str, DrainerStatus]
    # Set when the timeline replicas are discovered by name (FAILWHALE_TIMELINE_DISCOVERY).
    timeline_discovery: DiscoveryStatus | None = None
    # Set with the resilience layer on (no admission control without it).
    admission: AdmissionStatus | None = None


@router.get("/status")
async def status(request: Request, gateway: GatewayDep) -> Status:
    backends = gateway.backends
    dependencies = []
    for downstream in backends.all():
        breaker = downstream.breaker.state if gateway.resilient else "none"
        family = "timeline" if downstream in backends.timeline.replicas else downstream.name
        dependencies.append(
            DependencyStatus(
                name=downstream.name,
                breaker=breaker,
                error_rate=round(downstream.outcomes.error_rate(), 4),
                calls=downstream.outcomes.count(),
                degraded=(breaker != "closed" and gateway.resilient)
                or gateway.degradations.recent(family),
            )
        )
    redis_breaker = request.app.state.redis.guard.breaker
    dependencies.append(
        DependencyStatus(
            name="redis",
            breaker=redis_breaker.state if redis_breaker else "none",
            error_rate=0.0,
            calls=0,
            degraded=bool(redis_breaker) and redis_breaker.state != "closed",
        )
    )
    depths = {outbox.name: await _depth(outbox) for outbox in gateway.outboxes}
    settings = request.app.state.settings
    return Status(
        service=settings.service_name,
        instance=instance_name(settings.service_name),
        resilience=settings.resilience,
        window_s=backends.users.outcomes.window_s,
        dependencies=dependencies,
        outbox_depth=depths,
        outbox_drainers={
            d.outbox.name: DrainerStatus(
                running=d.running,
                restarts=d.restarts,
                last_error=d.last_error,
                leader=d.lease.held,
            )
            for d in gateway.drainers
        },
        timeline_discovery=_discovery(backends.discovery),
        admission=_admission(request.app.state.admission),
    )


def _admission(admission: Admission | None) -> AdmissionStatus | None:
    if admission is None:
        return None
    return AdmissionStatus(
        limit=admission.limit,
        loop_lag_ms=round(admission.lag_s * 1000, 1),
        in_flight=admission.in_flight,
        max_waiting=admission.policy.max_waiting,
        waiting=admission.waiting,
        standing_queue=admission.standing,
        shed=dict(admission.shed),
    )


def _discovery(discovery: ReplicaDiscovery | None) -> DiscoveryStatus | None:
    if discovery is None:
        return None
    return DiscoveryStatus(
        name=str(discovery.name),
        replicas={replica.name: address for address, replica in discovery.known.items()},
        lookups=discovery.lookups,
        last_error=discovery.last_error,
    )


async def _depth(outbox: Outbox) -> int | None:
    try:
        return await outbox.depth()
    except REDIS_OUTAGES:
        return None
