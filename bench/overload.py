"""Overload: does the stack shed what it cannot serve, or queue it until everyone waits?

For resilience on, then off, each on a fresh local stack seeded with readers: the capacity is
found first on the stack as built, resilience on (open-loop home-timeline reads in steps of
rising rate, until goodput stops rising; capacity = the best goodput), then one open-loop run,
without a pause between its stages, at 0.5x, 2x, 4x and back to 0.5x that capacity; the off
side meets the same rates (the same crowd). Goodput counts 2xx answers that came within
`GOOD_WITHIN_S` of when they were due; latencies are measured from when each request was due
(bench.overload_client). Figures of a stage leave out its first `settle_s`.

    .venv/bin/python -m bench.overload [--quick]
"""

import argparse
import asyncio
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import uvloop

from bench.overload_client import OpenLoopClient, Step, timeline_reads
from bench.results import figure, ratio
from bench.seeded import Reader, local_stack, seed_readers
from stack.local import LocalStack

Say = Callable[[str], None]
STAGES = (("half", 0.5), ("2x", 2.0), ("4x", 4.0), ("back", 0.5))
RECOVERED_SHARE = 0.9  # a half-second of the last stage with this share of its rate is good
RECOVERY_BIN_S = 0.5
BEHIND_SHARE = 0.01  # more late arrivals than this share of a stage: the generator fell behind


@dataclass(frozen=True)
class Plan:
    users: int
    search_start_rps: float
    search_factor: float
    search_step_s: float
    search_steps: int
    stage_s: dict[str, float]
    settle_s: float


FULL = Plan(60, 80, 1.5, 4.0, 7, {"half": 12, "2x": 15, "4x": 12, "back": 15}, 2.0)
QUICK = Plan(40, 80, 1.6, 2.5, 5, {"half": 6, "2x": 8, "4x": 6, "back": 10}, 1.0)


async def find_capacity(client: OpenLoopClient, plan: Plan, say: Say) -> tuple[float, list[Any]]:
    """Open-loop steps of rising rate until goodput stops rising (or falls well short of the
    rate offered); a step that misses is measured once more at the same rate before the search
    ends (one stall of a shared machine is not the stack's capacity). Returns the best goodput
    and each step's figures."""
    rate, best, tried, missed = plan.search_start_rps, 0.0, [], False
    for _ in range(plan.search_steps):
        (step,) = await client.run([(rate, plan.search_step_s)])
        figures = step.figures(settle_s=1.0)
        tried.append(figures)
        goodput = float(figures["goodput_rps"] or 0.0)
        say(f"capacity search: {rate:.0f}/s offered, {goodput:.0f}/s good")
        rising = goodput > best * 1.05
        best = max(best, goodput)
        if rising and goodput >= 0.85 * rate:
            rate, missed = rate * plan.search_factor, False
        elif missed:
            break
        else:
            missed = True
    return best, tried


def recovery_s(step: Step, settle_s: float = 0.0) -> float | None:
    """Seconds from the drop to the start of the first half-second from which on every
    half-second's goodput is at least RECOVERED_SHARE of the rate; None if it never was."""
    bins = [0] * max(1, int(step.duration_s / RECOVERY_BIN_S))
    for answer in step.answers:
        slot = int((answer.due - step.started) / RECOVERY_BIN_S)
        if answer.good and 0 <= slot < len(bins):
            bins[slot] += 1
    needed = RECOVERED_SHARE * step.rate * RECOVERY_BIN_S
    recovered_from = None
    for index, good in enumerate(bins[:-1]):  # the last bin may be cut short by rounding
        if good >= needed and recovered_from is None:
            recovered_from = index
        elif good < needed:
            recovered_from = None
    return None if recovered_from is None else recovered_from * RECOVERY_BIN_S


async def drive(
    url: str, tokens: list[str], plan: Plan, mode: str, say: Say, capacity: float | None
) -> dict[str, Any]:
    """One side: its capacity found first unless given (the off side is driven at the on side's
    rates, so that both sides meet the same crowd), then the stages."""
    async with OpenLoopClient(url, timeline_reads(tokens)) as client:
        search: list[Any] = []
        if capacity is None:
            capacity, search = await find_capacity(client, plan, say)
            await asyncio.sleep(2.0)  # the search's last step drains
        say(f"resilience {mode}: capacity {capacity:.0f}/s; 0.5x, 2x, 4x, 0.5x")
        stages = [(capacity * factor, plan.stage_s[name]) for name, factor in STAGES]
        steps = await client.run(stages)
    side: dict[str, Any] = {"capacity_rps": capacity, "search": search}
    for (name, _), step in zip(STAGES, steps, strict=True):
        side[name] = step.figures(plan.settle_s)
    side["recovery_s"] = recovery_s(steps[-1])
    side["back_good_per_s"] = steps[-1].good_per_second()
    behind = [
        name
        for (name, _), step in zip(STAGES, steps, strict=True)
        if len(step.late) > BEHIND_SHARE * max(1, step.issued)
    ]
    side["generator_behind"] = behind
    return side


async def seeded(stack: LocalStack, users: int) -> list[Reader]:
    """The readers, seeded again (an account seeded already is logged in) when a sign-up
    was refused by a stack short of CPU."""
    for attempt in range(3):
        try:
            return await seed_readers(stack, users, posts_each=3)
        except httpx.HTTPStatusError:
            if attempt == 2:
                raise
            await asyncio.sleep(2.0)
    raise AssertionError("unreachable")


def run_side(mode: str, plan: Plan, say: Say, capacity: float | None = None) -> dict[str, Any]:
    with local_stack(mode) as stack:
        readers = asyncio.run(seeded(stack, plan.users))
        tokens = [reader.token for reader in readers]
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            url = stack.layout.gateway_url
            return runner.run(drive(url, tokens, plan, mode, say, capacity))


def summarise(side: dict[str, Any]) -> dict[str, Any]:
    """The headline figures of one side. Peak goodput is the best seen in the run, the search's
    or a stage's (a shared machine can give a stage more than the search found)."""
    peak = max(side["capacity_rps"], *(side[name]["goodput_rps"] for name, _ in STAGES))
    return {
        "peak_goodput_rps": peak,
        "goodput_2x": ratio(side["2x"]["goodput_rps"], peak),
        "goodput_4x": ratio(side["4x"]["goodput_rps"], peak),
        "accepted_p99_ratio": ratio(side["2x"]["accepted_p99_ms"], side["half"]["accepted_p99_ms"]),
        "shed_p99_ms": side["2x"]["shed_p99_ms"],
        "recovery_s": side["recovery_s"],
    }


def run(quick: bool, say: Say) -> dict[str, Any]:
    plan = QUICK if quick else FULL
    on_side = run_side("on", plan, say)
    sides = {"on": on_side, "off": run_side("off", plan, say, on_side["capacity_rps"])}
    on, off = summarise(sides["on"]), summarise(sides["off"])
    load = [round(x, 2) for x in os.getloadavg()]
    raw = {"resilience_off": off, "load_average": load}
    marked = (
        {"generator_behind": sides["on"]["generator_behind"]}
        if sides["on"]["generator_behind"]
        else {}
    )
    details = {
        "capacity_rps": sides["on"]["capacity_rps"],
        "peak_goodput_rps": on["peak_goodput_rps"],
        "goodput_4x": _round(on["goodput_4x"]),
        "stages": {name: sides["on"][name] for name, _ in STAGES},
    }
    return {
        "overload_goodput_2x": figure(
            "overload_goodput_2x", on["goodput_2x"], **details, **raw, **marked
        ),
        "overload_accepted_p99_ratio": figure(
            "overload_accepted_p99_ratio",
            on["accepted_p99_ratio"],
            half_p99_ms=sides["on"]["half"]["accepted_p99_ms"],
            at_2x_p99_ms=sides["on"]["2x"]["accepted_p99_ms"],
            resilience_off=off["accepted_p99_ratio"],
        ),
        "overload_shed_p99_ms": figure(
            "overload_shed_p99_ms",
            on["shed_p99_ms"],
            shed_at_2x=sides["on"]["2x"]["shed"],
            from_send_ms=sides["on"]["2x"]["shed_p99_from_send_ms"],
            at_4x_ms=sides["on"]["4x"]["shed_p99_ms"],
        ),
        "overload_recovery_s": figure(
            "overload_recovery_s",
            on["recovery_s"],
            good_per_s=sides["on"]["back_good_per_s"],
            resilience_off=off["recovery_s"],
            resilience_off_good_per_s=sides["off"]["back_good_per_s"],
            resilience_off_stages={name: sides["off"][name] for name, _ in STAGES},
        ),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(json.dumps(run(args.quick, print), indent=2))


if __name__ == "__main__":
    main()
