"""The bulkhead: a limit on calls in flight, refused at once or after a bounded wait."""

import asyncio

import pytest

from services.common.bulkhead import Bulkhead, BulkheadFull

pytestmark = pytest.mark.anyio


async def test_without_a_waiting_room_the_call_past_the_limit_is_refused_at_once() -> None:
    bulkhead = Bulkhead("users", 2)
    await bulkhead.enter()
    await bulkhead.enter()
    with pytest.raises(BulkheadFull):
        await bulkhead.enter()
    bulkhead.leave()
    await bulkhead.enter()
    assert bulkhead.in_flight == 2


async def test_waiting_callers_get_the_slots_given_back_first_come_first_served() -> None:
    bulkhead = Bulkhead("logins", 1, max_waiting=2, max_wait_s=5.0)
    await bulkhead.enter()
    order: list[str] = []

    async def caller(name: str) -> None:
        await bulkhead.enter()
        order.append(name)

    first = asyncio.create_task(caller("first"))
    await asyncio.sleep(0)
    second = asyncio.create_task(caller("second"))
    await asyncio.sleep(0)
    assert bulkhead.waiting == 2 and order == []
    bulkhead.leave()
    await first
    bulkhead.leave()
    await second
    assert order == ["first", "second"]
    assert bulkhead.in_flight == 1 and bulkhead.waiting == 0


async def test_a_full_waiting_room_refuses_at_once() -> None:
    bulkhead = Bulkhead("logins", 1, max_waiting=1, max_wait_s=5.0)
    await bulkhead.enter()
    waiter = asyncio.create_task(bulkhead.enter())
    await asyncio.sleep(0)
    with pytest.raises(BulkheadFull):
        await bulkhead.enter()
    bulkhead.leave()
    await waiter
    assert bulkhead.in_flight == 1


async def test_a_caller_that_waited_its_time_is_refused_and_leaves_the_room() -> None:
    bulkhead = Bulkhead("logins", 1, max_waiting=4, max_wait_s=0.05)
    await bulkhead.enter()
    with pytest.raises(BulkheadFull):
        await bulkhead.enter()
    assert bulkhead.waiting == 0 and bulkhead.in_flight == 1
    bulkhead.leave()
    assert bulkhead.in_flight == 0


async def test_a_caller_cancelled_after_it_was_handed_a_slot_passes_the_slot_on() -> None:
    bulkhead = Bulkhead("logins", 1, max_waiting=2, max_wait_s=5.0)
    await bulkhead.enter()
    handed = asyncio.create_task(bulkhead.enter())
    behind = asyncio.create_task(bulkhead.enter())
    await asyncio.sleep(0)
    bulkhead.leave()  # the slot goes to `handed`, which is cancelled before it runs
    handed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await handed
    await behind  # got the slot `handed` gave up
    assert bulkhead.in_flight == 1 and bulkhead.waiting == 0
    bulkhead.leave()
    assert bulkhead.in_flight == 0
