"""The outbox drainer: delivers an outbox in order, the oldest entry first and never the next one
before it, under a supervisor that restarts it after any failure.

An entry leaves the outbox only after its service acknowledged it (or refused it for good); the
delivery carries the write's idempotency key, so a delivery repeated after a crash is applied
once. While the service is away the drainer waits with backoff; anything else that goes wrong
(a Redis error reply, a bug) is logged with its traceback, counted in
`failwhale_outbox_drainer_restarts_total` and the drainer starts again: accepted writes are
never abandoned. `/readyz` and `/v1/status` say when a drainer is not running.

Every replica of the gateway runs a drainer per outbox, and only the one holding the outbox's
lease (services.gateway.lease) delivers: the others stand by and take over within the lease's
lifetime when it goes. Without it each replica delivered every entry (the idempotency key made
the second delivery a replay, but the service recovering from its outage got every entry once
per gateway replica).
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from services.common.cancellation import end_if_cancelled
from services.common.errors import ChirpError, DependencyUnavailable
from services.common.redis_store import REDIS_OUTAGES
from services.gateway.lease import Lease
from services.gateway.outbox import Outbox

log = logging.getLogger("failwhale.outbox")

Deliver = Callable[[dict[str, str]], Awaitable[None]]


class Drainer:
    IDLE_S = 0.2
    RETRY_INITIAL_S = 0.2
    RETRY_MAX_S = 2.0
    RESTART_S = 1.0

    def __init__(
        self,
        outbox: Outbox,
        deliver: Deliver,
        lease: Lease,
        pending_key: Callable[[dict[str, str]], str | None] = lambda _: None,
    ) -> None:
        self.outbox = outbox
        self.deliver = deliver
        self.lease = lease
        self.pending_key = pending_key
        self.delivered = 0
        self.restarts = 0
        # Running: not failed since it started or since its last clean pass over the outbox.
        self.running = True
        self.last_error: str | None = None

    async def supervise(self) -> None:
        """Run until cancelled; after any failure, log it, count it and run again."""
        metrics = self.outbox.metrics
        while True:
            end_if_cancelled()
            try:
                await self.run()
            except asyncio.CancelledError:
                self.running = False
                raise
            except Exception as exc:
                self.running = False
                self.restarts += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                metrics.series(metrics.outbox_drainer_restarts, self.outbox.name).inc()
                log.exception(
                    "outbox drainer failed; restarting",
                    extra={"outbox": self.outbox.name, "restart_in_s": self.RESTART_S},
                )
                await asyncio.sleep(self.RESTART_S)

    async def run(self) -> None:
        backoff = self.RETRY_INITIAL_S
        while True:
            end_if_cancelled()
            try:
                depth = await self.outbox.depth()
                self.outbox.metrics.outbox_depth.labels(
                    self.outbox.metrics.service, self.outbox.name
                ).set(depth)
                entries = await self.outbox.oldest(50) if await self.lease.hold() else []
                if not entries:
                    self._passed()
                    await asyncio.sleep(self.IDLE_S)
                    continue
                for entry_id, fields in entries:
                    # Renewed before each delivery: a drainer that stalled past the lease's
                    # lifetime (another replica has it now) stops here.
                    if not await self.lease.hold():
                        break
                    await self._deliver_one(entry_id, fields)
                self._passed()
                backoff = self.RETRY_INITIAL_S
            except (DependencyUnavailable, *REDIS_OUTAGES) as exc:
                # The service or Redis is away: an expected wait, not a failure of the drainer.
                self._passed()
                log.info("outbox waits", extra={"outbox": self.outbox.name, "reason": str(exc)})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.RETRY_MAX_S)

    def _passed(self) -> None:
        self.running = True
        self.last_error = None

    async def _deliver_one(self, entry_id: str, fields: dict[str, str]) -> None:
        refused = None
        try:
            await self.deliver(fields)
        except DependencyUnavailable:
            raise
        except ChirpError as exc:
            # The service refused the write for good (a 4xx): keep it aside, never drop it
            # silently, and let the entries behind it through.
            log.error(
                "outbox entry refused",
                extra={"outbox": self.outbox.name, "entry": entry_id, "reason": exc.detail},
            )
            refused = fields
        await self.outbox.done(entry_id, self.pending_key(fields), refused)
        self.delivered += 1


async def hand_over(drainer: Drainer) -> None:
    """Give up the drainer's lease (after its task has ended), so that another replica takes
    the outbox now rather than when the lease lapses; bounded, and quiet if Redis is away."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(1.0):
            await drainer.lease.release()


def not_running(drainers: list[Drainer]) -> str | None:
    """What `/readyz` says while a drainer is failing: which one, and its last error."""
    down = [f"{d.outbox.name} ({d.last_error})" for d in drainers if not d.running]
    return f"outbox drainer not running: {', '.join(down)}" if down else None
