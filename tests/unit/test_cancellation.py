"""A background loop ends when its task is cancelled even where a library lost the cancel (on
Python 3.11 `asyncio.wait_for`, which redis-py wraps around socket writes, can return the inner
result and drop a cancel that arrived as it completed): the outbox drainer is the loop whose
gateway would otherwise never finish shutting down."""

import asyncio
from typing import Any

import pytest

from services.common.cancellation import end_if_cancelled
from services.gateway.drainer import Drainer

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class LosesOneCancel:
    """A library call that takes a while and swallows the first cancel that comes meanwhile (one
    only: a test of code that still loops for ever then fails, instead of hanging its teardown)."""

    def __init__(self) -> None:
        self.lost = 0

    async def __call__(self) -> None:
        if self.lost:
            await asyncio.sleep(0.01)
            return
        try:
            await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            self.lost += 1


async def test_a_loop_whose_call_lost_the_cancel_ends_at_its_next_round() -> None:
    rounds = 0
    call = LosesOneCancel()

    async def loop() -> None:
        nonlocal rounds
        while True:
            end_if_cancelled()
            await call()
            rounds += 1

    task = asyncio.create_task(loop())
    await asyncio.sleep(0.05)
    task.cancel()
    await asyncio.wait({task}, timeout=2)  # never cancels what it waits for
    assert call.lost == 1 and task.cancelled(), "the loop went on after its cancel"
    assert rounds > 0


class Outbox:
    """The drainer's view of an outbox whose Redis call loses the cancel."""

    name = "posts"
    metrics: Any = None
    call = LosesOneCancel()

    async def depth(self) -> int:
        await self.call()
        return 0


class Metrics:
    service = "gateway"

    class _Gauge:
        def labels(self, *_: str) -> "Metrics._Gauge":
            return self

        def set(self, _: float) -> None:
            pass

    outbox_depth = _Gauge()


class Lease:
    async def hold(self) -> bool:
        return False


async def test_a_drainer_ends_when_cancelled_though_its_redis_call_lost_the_cancel() -> None:
    outbox = Outbox()
    outbox.metrics = Metrics()
    drainer = Drainer(outbox, lambda _: asyncio.sleep(0), Lease())  # type: ignore[arg-type]
    drainer.IDLE_S = 0.001
    task = asyncio.create_task(drainer.supervise())
    await asyncio.sleep(0.05)
    task.cancel()
    await asyncio.wait({task}, timeout=2)
    assert outbox.call.lost == 1 and task.cancelled(), "the drainer went on after its cancel"
