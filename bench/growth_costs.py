"""Costs of the growth benchmark that are paid per request rather than held: the CPU a
home-timeline read costs against its page size, and the rate at which the gateway's posts
outbox is delivered once the posts service returns from an outage, against the outbox's depth.
"""

import asyncio
import math
import signal
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import redis.asyncio as aioredis

from bench.growth_client import Chirp
from bench.growth_fit import fit_entry
from bench.read_path import GATEWAY_PATH, cpu_seconds
from bench.seeded import Member
from bench.wrk import WrkRequest, run_wrk
from stack.local import LocalStack

Say = Callable[[str], None]
AUTHORS = 10
READERS = 20
POSTS_EACH = 11  # 110 posts in every reader's home: a full page of 100 and more behind it
CONNECTIONS = 16
SHARE_PAGE = 20
OUTBOX = "gw:outbox:posts"
DRAIN_TIMEOUT_S = 120.0


async def seed_readers(chirp: Chirp) -> tuple[list[Member], list[Member]]:
    """Readers who each follow the same authors, whose posts fill every reader's home."""
    authors, readers = await chirp.register(AUTHORS, "a"), await chirp.register(READERS, "r")
    await chirp.follow((r, a) for r in readers for a in authors)
    await chirp.post([a for a in authors for _ in range(POSTS_EACH)])
    return authors, readers


def page_requests(readers: Sequence[Member], size: int) -> list[WrkRequest]:
    return [WrkRequest(f"/v1/timeline?limit={size}", r.auth) for r in readers]


def read_cost(
    stack: LocalStack, readers: Sequence[Member], sizes: Sequence[int], rounds: int,
    duration_s: float, say: Say,
) -> dict[str, Any]:  # fmt: skip
    """CPU (gateway + timeline replicas + Redis) per read for each page size, wrk at saturation,
    sizes taken in turn and the order turned round each round; medians over the rounds."""
    url = stack.layout.gateway_url
    pids = [stack.pid(name) for name in GATEWAY_PATH]
    items = {size: _items(url, readers[0], size) for size in sizes}
    for size in sizes:  # warm up: connections, caches, each size's code path
        run_wrk(url, page_requests(readers, size), min(2.0, duration_s), CONNECTIONS)
    cpu: dict[int, list[float]] = {size: [] for size in sizes}
    shares: dict[int, dict[str, list[float]]] = {s: {n: [] for n in GATEWAY_PATH} for s in sizes}
    rps: dict[int, list[float]] = {size: [] for size in sizes}
    errors = 0
    for n in range(rounds):
        order = list(sizes) if n % 2 == 0 else list(reversed(sizes))
        for size in order:
            before = [cpu_seconds([pid]) for pid in pids]
            result = run_wrk(url, page_requests(readers, size), duration_s, CONNECTIONS)
            spent = [cpu_seconds([pid]) - b for pid, b in zip(pids, before, strict=True)]
            cpu[size].append(sum(spent) * 1000 / max(1, result.requests))
            for name, seconds in zip(GATEWAY_PATH, spent, strict=True):
                shares[size][name].append(seconds * 1000 / max(1, result.requests))
            rps[size].append(result.rps)
            errors += result.errors
            say(f"round {n + 1}/{rounds}: page {size}: {cpu[size][-1]:.2f} ms CPU per read")
    medians = [statistics.median(cpu[size]) for size in sizes]
    by_process = {
        size: {name: round(statistics.median(v), 4) for name, v in shares[size].items()}
        for size in sizes
    }
    return {
        "cpu_ms_per_read": fit_entry([float(s) for s in sizes], medians, digits=4),
        "pages": {
            str(size): {
                "cpu_ms_per_read": round(statistics.median(cpu[size]), 4),
                "cpu_ms_runs": [round(c, 4) for c in cpu[size]],
                "reads_per_s": round(statistics.median(rps[size]), 1),
                "items": items[size],
                "by_process_ms": by_process[size],
            }
            for size in sizes
        },
        "processes": list(GATEWAY_PATH),
        # The gateway's own share, against the page size.
        "gateway_cpu_ms_per_read": fit_entry(
            [float(s) for s in sizes], [by_process[s]["gateway"] for s in sizes], digits=4
        ),
        # Where a read of the default page spends its CPU (ms per read, by process).
        "by_process_page_20": by_process.get(SHARE_PAGE, {}),
        "rounds": rounds,
        "duration_s": duration_s,
        "connections": CONNECTIONS,
        "readers": len(readers),
        "errors": errors,
    }


def _items(url: str, reader: Member, size: int) -> int:
    answer = httpx.get(f"{url}/v1/timeline", params={"limit": size}, headers=reader.auth)
    answer.raise_for_status()
    count = len(answer.json()["items"])
    if count != size:
        raise RuntimeError(f"a page of {size} came back with {count} posts")
    return count


async def outbox_drain(
    stack: LocalStack, chirp: Chirp, author: Member, depths: Sequence[int], say: Say
) -> dict[str, Any]:
    """For each depth: posts killed, that many posts accepted into the outbox, posts started
    again, and the outbox's length followed from posts' readiness until it is empty."""
    redis = aioredis.Redis.from_url(stack.layout.redis_url)
    runs: list[dict[str, float]] = []
    try:
        for depth in depths:
            stack.send_signal("posts", signal.SIGKILL)
            await chirp.post([author] * depth)
            queued = int(await redis.xlen(OUTBOX))
            stack.restart("posts")
            pids = [stack.pid(name) for name in ("gateway", "posts", "redis")]
            cpu_before = cpu_seconds(pids)
            run = await _drain(redis, queued)
            cpu = cpu_seconds(pids) - cpu_before
            runs.append(run | {"cpu_ms_per_entry": round(cpu * 1000 / max(1, queued), 3)})
            say(f"outbox of {queued}: empty {run['drain_s']:.1f} s after posts returned")
    finally:
        await redis.aclose()
    return drain_figures(runs)


def drain_figures(runs: Sequence[dict[str, float]]) -> dict[str, Any]:
    """The delivery rate, from the steady part of each drain (after a tenth of the outbox has
    gone: before that, the breaker's reset, the drainer's backoff and the restarted service's
    first requests make a wait that varies by seconds from one outage to the next), fitted
    against the entries it delivered; then the wait, the median of what each drain took beyond
    its depth at that rate, and how far the runs are from `wait + depth / rate`."""
    steady = fit_entry(
        [r["steady_entries"] for r in runs], [r["drain_s"] - r["steady_from_s"] for r in runs], 5
    )
    rate = 1 / steady["slope"] if steady["slope"] > 0 else None
    waits = [r["drain_s"] - r["depth"] / rate for r in runs] if rate else []
    wait = statistics.median(waits) if waits else None
    residual = (
        math.sqrt(sum((w - wait) ** 2 for w in waits) / len(waits)) if wait is not None else None
    )
    return {
        "entries_per_s": None if rate is None else round(rate, 1),
        "wait_s": None if wait is None else round(wait, 3),
        "residual_s": None if residual is None else round(residual, 3),
        "steady_s": steady,
        "first_delivery_s": round(statistics.median(r["first_delivery_s"] for r in runs), 3),
        "cpu_ms_per_entry": round(statistics.median(r["cpu_ms_per_entry"] for r in runs), 3),
        "runs": list(runs),
    }


async def _drain(redis: aioredis.Redis, queued: int) -> dict[str, float]:
    """Follows the outbox until it is empty: when its first entry went, when a tenth had gone
    (and how many were left then), when the last went; seconds from now."""
    start = time.monotonic()
    first: float | None = None
    steady: tuple[float, int] | None = None
    while True:
        depth = int(await redis.xlen(OUTBOX))
        now = time.monotonic() - start
        if first is None and depth < queued:
            first = now
        if steady is None and depth <= queued - max(1, queued // 10):
            steady = (now, depth)
        if depth == 0:
            return {
                "depth": queued,
                "drain_s": round(now, 3),
                "first_delivery_s": round(first if first is not None else now, 3),
                "steady_from_s": round(steady[0] if steady else now, 3),
                "steady_entries": steady[1] if steady else 0,
            }
        if now > DRAIN_TIMEOUT_S:
            raise TimeoutError(f"{depth} entries still in the outbox after {DRAIN_TIMEOUT_S} s")
        await asyncio.sleep(0.01)
