"""How each cost grows with the work, measured on a local stack and fitted to a line: Redis memory
per member, per post and per DM, the CPU of a home-timeline read against its page size, and the
rate at which the gateway's outbox is delivered when the posts service returns. The figures go
to results.json's `growth` section, and `render` turns them into the table and the sizing
example of docs/performance.md ("How each cost grows"), so the doc cannot drift from them.

    .venv/bin/python -m bench --only growth [--quick]
"""

import asyncio
import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis

from bench import growth_costs, growth_doc, growth_memory
from bench.growth_client import Chirp
from bench.seeded import NEVER_HEAVY, local_stack, wait_fanned_out
from stack.local import LocalStack

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "performance.md"
MARK_START = "<!-- bench:growth:start -->"
MARK_END = "<!-- bench:growth:end -->"
Say = Callable[[str], None]
# A cheap argon2 for the benchmark's own stack, so thousands of sign-ups take seconds: the
# stored hash is one character shorter than with the default cost, the rest is the same.
# Every post is fanned out on write (no account is heavy): the figures are those of the plain
# path, and a heavy author's post costs what is left of them without the home entries.
STACK_ENV = {
    "FAILWHALE_USERS_HASH_TIME_COST": "1",
    "FAILWHALE_USERS_HASH_MEMORY_KIB": "1024",
    "FAILWHALE_HEAVY_FOLLOWERS": str(NEVER_HEAVY),
}


@dataclass(frozen=True)
class Plan:
    member_steps: tuple[int, ...]
    post_steps: tuple[int, ...]
    dm_steps: tuple[int, ...]
    follows_each: int
    messages_per_conversation: int
    page_sizes: tuple[int, ...]
    read_rounds: int
    read_s: float
    outbox_depths: tuple[int, ...]


# Members cost six writes each (sign-up and five follows): fewer of them than posts and DMs.
FULL = Plan((300, 600, 900, 1200), (1000, 2000, 3000), (1000, 2000, 3000), 5, 10,
            (1, 20, 50, 100), 5, 2.0, (150, 400, 800))  # fmt: skip
QUICK = Plan((100, 200, 300), (150, 300), (150, 300), 5, 10, (1, 20, 50, 100), 1, 2.0,
             (100, 250))  # fmt: skip


async def measure_memory(
    stack: LocalStack, chirp: Chirp, plan: Plan, say: Say, seed: int = 13
) -> dict[str, Any]:
    """The three memory phases, one after the other on the same stack (posts and DMs are
    written by the members of the first)."""
    rng = random.Random(seed)
    graph = growth_memory.Graph()
    redis = aioredis.Redis.from_url(stack.layout.redis_url)

    async def settle() -> None:
        await wait_fanned_out(stack)

    def step(name: str) -> Say:
        return lambda text: say(f"{name}: {text}")

    try:
        members = await growth_memory.members_phase(
            chirp, redis, graph, plan.member_steps, plan.follows_each, rng, step("members")
        )
        posts = await growth_memory.posts_phase(
            chirp, redis, graph, plan.post_steps, settle, rng, step("posts")
        )
        dms = await growth_memory.dms_phase(
            chirp, redis, graph, plan.dm_steps, plan.messages_per_conversation, rng, step("dms")
        )
        large = await growth_memory.large_structures(redis)
    finally:
        await redis.aclose()
    return {"members": members, "posts": posts, "dms": dms, "large": large}


async def _measure(stack: LocalStack, plan: Plan, say: Say) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=stack.layout.gateway_url, timeout=30) as client:
        chirp = Chirp(client)
        memory = await measure_memory(stack, chirp, plan, say)
        say("reads: seeding readers")
        authors, readers = await growth_costs.seed_readers(chirp)
        await wait_fanned_out(stack)
        reads = await asyncio.to_thread(
            growth_costs.read_cost, stack, readers, plan.page_sizes, plan.read_rounds,
            plan.read_s, lambda text: say(f"reads: {text}"),
        )  # fmt: skip
        drain = await growth_costs.outbox_drain(
            stack, chirp, authors[0], plan.outbox_depths, lambda text: say(f"outbox: {text}")
        )
    return {"memory": memory, "reads": reads, "outbox": drain}


def run(quick: bool, say: Say) -> dict[str, Any]:
    plan = QUICK if quick else FULL
    load_before = os.getloadavg()[0]
    with local_stack("on", env=STACK_ENV) as stack:
        figures = asyncio.run(_measure(stack, plan, say))
    growth = figures | {
        "quick": quick,
        "heavy_followers": NEVER_HEAVY,
        "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    render(growth, DOC)
    return {"growth": growth}


HEADING = "## How each cost grows"


def render(growth: dict[str, Any], doc: Path = DOC) -> None:
    """Writes the table between this section's markers in `doc` (the section and its markers are
    appended when missing; the text around them, and every other section, is left alone)."""
    text = doc.read_text() if doc.exists() else ""
    block = f"{MARK_START}\n{growth_doc.markdown(growth)}\n{MARK_END}"
    if MARK_START in text and MARK_END in text:
        head, rest = text.split(MARK_START, 1)
        text = head + block + rest.split(MARK_END, 1)[1]
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + f"{HEADING}\n\n{block}\n"
    doc.write_text(text)
