"""SingleFlight: one call out however many callers arrive or give up."""

import asyncio

import pytest

from services.common.single_flight import SingleFlight

pytestmark = pytest.mark.anyio


async def test_callers_who_arrive_while_a_call_runs_share_it() -> None:
    flight: SingleFlight[int] = SingleFlight("test")
    calls = 0
    release = asyncio.Event()

    async def call() -> int:
        nonlocal calls
        calls += 1
        await release.wait()
        return calls

    waiting = [asyncio.create_task(flight.run(call)) for _ in range(5)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*waiting) == [1] * 5
    assert calls == 1
    assert await flight.run(call) == 2  # landed: the next caller starts a new call


async def test_a_caller_who_gives_up_leaves_the_call_to_the_others() -> None:
    flight: SingleFlight[str] = SingleFlight("test")
    release = asyncio.Event()

    async def call() -> str:
        await release.wait()
        return "answer"

    quitter = asyncio.create_task(flight.run(call))
    stayer = asyncio.create_task(flight.run(call))
    await asyncio.sleep(0)
    quitter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await quitter
    release.set()
    assert await stayer == "answer"


async def test_a_failure_reaches_every_caller_and_the_next_call_is_new() -> None:
    flight: SingleFlight[str] = SingleFlight("test")
    outcomes = iter([RuntimeError("trends is away"), "answer"])

    async def call() -> str:
        await asyncio.sleep(0)
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    failed = await asyncio.gather(flight.run(call), flight.run(call), return_exceptions=True)
    assert [str(f) for f in failed] == ["trends is away"] * 2
    assert await flight.run(call) == "answer"
