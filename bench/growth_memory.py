"""Redis memory as the work grows: members (each following a few others), posts (each fanned
out to its author's followers) and DMs (in conversations of a few messages each), written
through the gateway, with Redis's memory read after each step of a few.

Memory is INFO's used_memory less the client and append-only-file buffers (they come and go
with the traffic, not the data), and, per key family (`posts:{n}`, `tl:home:{n}`, ...), the sum
of MEMORY USAGE over its keys, so each byte is put down to the structure that holds it, and
families whose keys expire (idempotency records, trend markers, timeline copies of posts) are
told apart from those kept for good.
"""

import asyncio
import random
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

from bench.growth_client import Chirp
from bench.growth_fit import fit_entry, linear_fit
from bench.seeded import Member
from services.timeline.settings import TimelineSettings

Settle = Callable[[], Awaitable[None]]
Say = Callable[[str], None]
QUIET_TIMEOUT_S = 60.0
SCAN_BATCH = 500
# Shapes of the structures that grow past Redis's compact encodings in a large stack: a home
# timeline at its cap (the timeline service's default) and a heavy account's follower set.
# Written under scratch keys, measured, deleted.
HOME_CAP: int = TimelineSettings.model_fields["home_max_len"].default
LARGE_SET = 10_000


def family(key: str) -> str:
    """The key with its ids and digests generalised: `posts:idem:3:ab..` -> `posts:idem:{n}:{h}`."""
    key = re.sub(r"[0-9a-f]{32,}", "{h}", key)
    return re.sub(r"\d+", "{n}", key)


@dataclass(frozen=True)
class Snapshot:
    held: int  # used_memory less client and AOF buffers
    used_memory: int
    keys: int
    families: dict[str, int]  # bytes per key family
    expiring: frozenset[str]  # families whose keys carry a TTL


async def snapshot(redis: aioredis.Redis) -> Snapshot:
    families: dict[str, int] = {}
    expiring: set[str] = set()
    keys = 0
    async for batch in _batches(redis):
        async with redis.pipeline(transaction=False) as pipe:
            for key in batch:
                pipe.memory_usage(key, samples=0)
                pipe.pttl(key)
            answers = await pipe.execute()
        for key, usage, ttl in zip(batch, answers[::2], answers[1::2], strict=True):
            if usage is None:  # gone between SCAN and MEMORY USAGE (expired)
                continue
            name = family(key)
            families[name] = families.get(name, 0) + int(usage)
            keys += 1
            if int(ttl) > 0:
                expiring.add(name)
    info = await redis.info("memory")
    used = int(info["used_memory"])
    buffers = int(info.get("mem_clients_normal", 0)) + int(info.get("mem_aof_buffer", 0))
    return Snapshot(used - buffers, used, keys, families, frozenset(expiring))


async def _batches(redis: aioredis.Redis) -> Any:
    cursor = 0
    while True:
        cursor, keys = await redis.scan(cursor, count=SCAN_BATCH)
        if keys:
            yield [k.decode() if isinstance(k, bytes) else str(k) for k in keys]
        if int(cursor) == 0:
            return


async def quiet(redis: aioredis.Redis, settle: Settle | None) -> None:
    """Until what the writes set off is done: `settle` (fan-out), then the number of keys and
    the memory unchanged over half a second (the trends consumer, expiries)."""
    if settle is not None:
        await settle()
    deadline = time.monotonic() + QUIET_TIMEOUT_S
    last: tuple[int, int] | None = None
    while time.monotonic() < deadline:
        now = (int(await redis.dbsize()), int((await redis.info("memory"))["used_memory_dataset"]))
        if now == last:
            return
        last = now
        await asyncio.sleep(0.5)


@dataclass
class Graph:
    """The members written so far and how many follow each."""

    members: list[Member] = field(default_factory=list)
    followers: dict[int, int] = field(default_factory=dict)
    conversations: set[tuple[int, int]] = field(default_factory=set)


Add = Callable[[int, int], Awaitable[None]]


async def grow(
    redis: aioredis.Redis, steps: Sequence[int], add: Add, settle: Settle | None, say: Say
) -> dict[str, Any]:
    """Memory at 0 and at each cumulative count of `steps`, fitted to count -> bytes: overall
    and per key family (families that did not move are left out)."""
    await quiet(redis, settle)
    start = await snapshot(redis)
    shots, done = [start], 0
    for count in steps:
        await add(done, count)
        await quiet(redis, settle)
        shots.append(await snapshot(redis))
        done = count
        say(f"{count}: {(shots[-1].held - start.held) / count:.0f} B each")
    xs = [0.0, *map(float, steps)]
    held = fit_entry(xs, [float(s.held - start.held) for s in shots], digits=2)
    names = sorted({name for s in shots for name in s.families})
    families = {}
    for name in names:
        ys = [float(s.families.get(name, 0) - start.families.get(name, 0)) for s in shots]
        if any(ys):
            families[name] = {
                "bytes_each": round(linear_fit(xs, ys).slope, 2),
                "expires": any(name in s.expiring for s in shots),
            }
    keys = linear_fit(xs, [float(s.keys - start.keys) for s in shots])
    return {
        "bytes_each": held["slope"],
        "fit": held,
        "keys_each": round(keys.slope, 3),
        "families": dict(sorted(families.items(), key=lambda kv: -abs(kv[1]["bytes_each"]))),
    }


async def members_phase(
    chirp: Chirp, redis: aioredis.Redis, graph: Graph, steps: Sequence[int],
    follows_each: int, rng: random.Random, say: Say,
) -> dict[str, Any]:  # fmt: skip
    """Members who each follow `follows_each` others picked at random among those so far."""

    async def add(done: int, count: int) -> None:
        graph.members.extend(await chirp.register(count - done))
        pairs = []
        for follower in graph.members[done:count]:
            others = [m for m in rng.sample(graph.members, follows_each + 1) if m != follower]
            for followee in others[:follows_each]:
                pairs.append((follower, followee))
                graph.followers[followee.id] = graph.followers.get(followee.id, 0) + 1
        await chirp.follow(pairs)

    result = await grow(redis, steps, add, None, say)
    return result | {"follows_each": follows_each}


async def posts_phase(
    chirp: Chirp, redis: aioredis.Redis, graph: Graph, steps: Sequence[int],
    settle: Settle | None, rng: random.Random, say: Say,
) -> dict[str, Any]:  # fmt: skip
    """Posts by authors picked at random among the members; each reaches its author's home and
    its followers' (fan-out on write)."""
    reached: list[int] = []

    async def add(done: int, count: int) -> None:
        authors = [rng.choice(graph.members) for _ in range(count - done)]
        reached.extend(1 + graph.followers.get(a.id, 0) for a in authors)
        await chirp.post(authors)

    result = await grow(redis, steps, add, settle, say)
    homes = sum(reached) / len(reached)
    home_entry = sum(
        f["bytes_each"] for name, f in result["families"].items() if name.startswith("tl:home:")
    ) / homes  # fmt: skip
    return result | {
        "homes_per_post": round(homes, 3),
        "max_followers": max(graph.followers.values(), default=0),
        "home_entry_bytes": round(home_entry, 2),
    }


async def dms_phase(
    chirp: Chirp, redis: aioredis.Redis, graph: Graph, steps: Sequence[int],
    per_conversation: int, rng: random.Random, say: Say,
) -> dict[str, Any]:  # fmt: skip
    """DMs in new conversations of `per_conversation` messages each, between members picked at
    random: conversations grow with the messages, as they do in a growing stack."""

    async def add(done: int, count: int) -> None:
        pairs: list[tuple[Member, Member]] = []
        while len(pairs) * per_conversation < count - done:
            a, b = rng.sample(graph.members, 2)
            key = (min(a.id, b.id), max(a.id, b.id))
            if key not in graph.conversations:
                graph.conversations.add(key)
                pairs.append((a, b))
        sends = [pair for pair in pairs for _ in range(per_conversation)]
        await chirp.dm(sends[: count - done])

    result = await grow(redis, steps, add, None, say)
    return result | {"messages_per_conversation": per_conversation}


async def large_structures(redis: aioredis.Redis) -> dict[str, Any]:
    """Bytes per entry of a home timeline at its cap and of a heavy account's follower set, in
    the encodings Redis picks at those sizes (the seeded ones are small and compact)."""
    home, followers = "bench:growth:home", "bench:growth:followers"
    first = int(time.time() * 1000) * 1024
    try:
        await redis.zadd(home, {str(first + n): first + n for n in range(HOME_CAP)})
        await redis.sadd(followers, *range(1_000_000, 1_000_000 + LARGE_SET))
        home_bytes = int(await redis.memory_usage(home, samples=0) or 0)
        set_bytes = int(await redis.memory_usage(followers, samples=0) or 0)
        encodings = [await redis.object("encoding", k) for k in (home, followers)]
        intset = await redis.config_get("set-max-intset-entries")
    finally:
        await redis.delete(home, followers)
    return {
        "full_home_entry_bytes": round(home_bytes / HOME_CAP, 2),
        "full_home_bytes": home_bytes,
        "home_cap": HOME_CAP,
        "large_follower_set_entry_bytes": round(set_bytes / LARGE_SET, 2),
        "set_max_intset_entries": int(str(next(iter(intset.values())))),
        "encodings": [e.decode() if isinstance(e, bytes) else str(e) for e in encodings],
    }
