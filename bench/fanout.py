"""`make bench ONLY=fanout`: what a post costs, and how soon followers see it, as the author's
following grows (1k, 10k, 100k followers), with hybrid fan-out (heavy accounts merged on read)
and without it (every post written into every follower's home timeline), on local stacks.

Per author and side: p50/p99 from the POST's acknowledgement to the post's first sight on
sampled followers' home timelines (read through the gateway), Redis commands per post (INFO
commandstats) and CPU per post of the processes on the write path, both less the stack's idle
rates. Authors' posts alternate, so a busy moment hurts every size alike. Then, on the hybrid
stack, the home-timeline read with 0, 1 and 10 heavy accounts followed (wrk, alternating
rounds): CPU ms per read and reads/s. docs/performance.md explains the figures.
"""

import asyncio
import os
import statistics
from collections.abc import Callable
from typing import Any

import httpx
import redis.asyncio as aioredis

from bench.fanout_stack import Author, StackDriver
from bench.read_path import cpu_seconds
from bench.results import figure, ratio
from bench.seeded import NEVER_HEAVY, Member, local_stack
from bench.wrk import WrkRequest, run_wrk
from stack.local import LocalStack

SIZES = (1_000, 10_000, 100_000)
SAMPLED = 3
# The services' own default: an account is heavy from 10,000 followers.
HYBRID_THRESHOLD = 10_000
READ_PATH = ("gateway", "timeline-1", "timeline-2", "users", "redis")
HEAVY_FOLLOWED = (0, 1, 10)
READERS_PER_GROUP = 8
POSTS_PER_LIST = 20
PAGE = 20


def _plan(quick: bool, hybrid: bool) -> dict[str, int]:
    """Posts per author: fewer without hybrid fan-out, where a post to 100k followers takes
    seconds."""
    if hybrid:
        return {"cost": 6 if quick else 20, "visible": 4 if quick else 15}
    return {"cost": 2 if quick else 3, "visible": 2 if quick else 4}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def _side(
    stack: LocalStack, hybrid: bool, quick: bool, say: Callable[[str], None]
) -> tuple[dict[str, Any], list[Author], StackDriver]:
    plan = _plan(quick, hybrid)
    client = httpx.AsyncClient(base_url=stack.layout.gateway_url, timeout=30)
    redis = aioredis.Redis.from_url(stack.layout.redis_url, decode_responses=True)
    driver = StackDriver(stack, client, redis)
    authors = [await driver.author_with_followers(size, SAMPLED) for size in SIZES]
    figures: dict[str, Any] = {}
    for author in authors:
        say(f"{'hybrid' if hybrid else 'no hybrid'}: {author.followers} followers, write cost")
        figures[str(author.followers)] = await driver.write_cost(author.member, plan["cost"])
    delays: dict[int, list[float]] = {a.followers: [] for a in authors}
    say(f"{'hybrid' if hybrid else 'no hybrid'}: visibility, {plan['visible']} posts per author")
    for n in range(plan["visible"]):
        for author in authors:
            post_id, acked = await driver.post(author.member, f"visible {n} #bench")
            delays[author.followers] += await driver.visible(author.sampled, post_id, acked)
    for author in authors:
        seen = delays[author.followers]
        figures[str(author.followers)] |= {
            "visible_p50_ms": round(statistics.median(seen) * 1000, 1),
            "visible_p99_ms": round(_percentile(seen, 99) * 1000, 1),
            "samples": len(seen),
            "heavy": bool(await redis.sismember("users:heavy", str(author.member.id))),
        }
    return figures, authors, driver


async def _readers(driver: StackDriver, authors: list[Author]) -> dict[int, list[Member]]:
    """Readers following 0, 1 or 10 heavy accounts, each also following one account fanned out
    on write; every list and home set holds POSTS_PER_LIST posts or more."""
    heavy = [a.member for a in authors if a.followers >= HYBRID_THRESHOLD]
    while len(heavy) < max(HEAVY_FOLLOWED):
        heavy.append((await driver.author_with_followers(HYBRID_THRESHOLD, 0)).member)
    friend = await driver.sign_up("friend")
    groups: dict[int, list[Member]] = {}
    for count in HEAVY_FOLLOWED:
        groups[count] = [await driver.sign_up("reader") for _ in range(READERS_PER_GROUP)]
        for reader in groups[count]:
            for followee in [friend, *heavy[:count]]:
                await driver.follow(reader, followee)
    for author in [friend, *heavy]:
        await asyncio.gather(
            *(driver.post(author, f"list {n} #bench") for n in range(POSTS_PER_LIST))
        )
    await driver.fanned_out()
    return groups


def _reads(
    stack: LocalStack, groups: dict[int, list[Member]], quick: bool, say: Callable[[str], None]
) -> dict[str, Any]:
    rounds, duration_s = (2, 2.0) if quick else (3, 4.0)
    pids = [stack.processes[name].pid for name in READ_PATH]
    url = stack.layout.gateway_url
    requests = {
        count: [
            WrkRequest(f"/v1/timeline?limit={PAGE}", {"Authorization": f"Bearer {r.token}"})
            for r in readers
        ]
        for count, readers in groups.items()
    }
    for count in HEAVY_FOLLOWED:  # warm: each replica keeps the readers' heavy follows
        run_wrk(url, requests[count], 1.0, connections=8)
    cpu: dict[int, list[float]] = {c: [] for c in HEAVY_FOLLOWED}
    rps: dict[int, list[float]] = {c: [] for c in HEAVY_FOLLOWED}
    for n in range(rounds):
        for count in HEAVY_FOLLOWED if n % 2 == 0 else reversed(HEAVY_FOLLOWED):
            before = cpu_seconds(pids)
            result = run_wrk(url, requests[count], duration_s, connections=16)
            cpu[count].append((cpu_seconds(pids) - before) * 1000 / max(1, result.requests))
            rps[count].append(result.rps)
            say(f"round {n + 1}/{rounds}, {count} heavy followed: {result.rps:.0f} reads/s, "
                f"{cpu[count][-1]:.2f} ms CPU per read")  # fmt: skip
    plain = statistics.median(cpu[0])
    return {
        str(count): {
            "cpu_ms_per_read": round(statistics.median(cpu[count]), 3),
            "reads_per_s": round(statistics.median(rps[count]), 1),
            "cpu_over_plain": round(statistics.median(cpu[count]) / plain, 3),
        }
        for count in HEAVY_FOLLOWED
    }


def _measure(hybrid: bool, quick: bool, say: Callable[[str], None]) -> dict[str, Any]:
    threshold = HYBRID_THRESHOLD if hybrid else NEVER_HEAVY
    with local_stack("on", env={"FAILWHALE_HEAVY_FOLLOWERS": str(threshold)}) as stack:

        async def main() -> tuple[dict[str, Any], dict[int, list[Member]] | None]:
            figures, authors, driver = await _side(stack, hybrid, quick, say)
            try:
                if not hybrid:
                    return figures, None
                say("hybrid: readers following 0, 1 and 10 heavy accounts")
                return figures, await _readers(driver, authors)
            finally:
                await driver.client.aclose()
                await driver.redis.aclose()

        figures, groups = asyncio.run(main())
        if groups is not None:
            figures["reads"] = _reads(stack, groups, quick, say)
        return figures


def run(quick: bool, say: Callable[[str], None]) -> dict[str, Any]:
    hybrid = _measure(True, quick, say)
    plain = _measure(False, quick, say)
    small, large = str(SIZES[0]), str(SIZES[-1])

    def over(side: dict[str, Any], field: str) -> float | None:
        value = ratio(side[large][field], side[small][field])
        return None if value is None else round(value, 3)

    cost_ratios = [over(hybrid, "commands_per_post"), over(hybrid, "cpu_ms_per_post")]
    cost = None if None in cost_ratios else max(r for r in cost_ratios if r is not None)
    raw = {
        "threshold": HYBRID_THRESHOLD,
        "sampled_followers": SAMPLED,
        "hybrid": {k: v for k, v in hybrid.items() if k != "reads"},
        "hybrid_off": plain,
        "hybrid_off_p99_100k_over_1k": over(plain, "visible_p99_ms"),
        "hybrid_off_write_cost_100k_over_1k": {
            "commands": over(plain, "commands_per_post"),
            "cpu": over(plain, "cpu_ms_per_post"),
        },
        "home_read_by_heavy_followed": hybrid.get("reads"),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    return {
        "fanout_p99_100k_over_1k": figure(
            "fanout_p99_100k_over_1k", over(hybrid, "visible_p99_ms"), **raw
        ),
        "fanout_write_cost_100k_over_1k": figure(
            "fanout_write_cost_100k_over_1k",
            cost,
            commands_100k_over_1k=cost_ratios[0],
            cpu_100k_over_1k=cost_ratios[1],
            hybrid_off_commands_100k_over_1k=over(plain, "commands_per_post"),
            hybrid_off_cpu_100k_over_1k=over(plain, "cpu_ms_per_post"),
        ),
    }
