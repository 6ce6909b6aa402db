"""The growth benchmark's memory measurement, at a few members, posts and DMs, against the real
stack: writes go through the gateway and each byte is found in the key family that holds it."""

import asyncio
import random
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from bench import growth_memory
from bench.growth_client import Chirp
from bench.seeded import wait_fanned_out
from stack.local import LocalStack

pytestmark = pytest.mark.integration


async def _measure(stack: LocalStack) -> dict[str, Any]:
    rng = random.Random(5)
    graph = growth_memory.Graph()
    redis = aioredis.Redis.from_url(stack.layout.redis_url)

    async def settle() -> None:
        await wait_fanned_out(stack)

    def quiet(_: str) -> None:
        return None

    try:
        async with httpx.AsyncClient(base_url=stack.layout.gateway_url, timeout=30) as client:
            chirp = Chirp(client, concurrency=4)
            members = await growth_memory.members_phase(chirp, redis, graph, (4, 8), 2, rng, quiet)
            posts = await growth_memory.posts_phase(
                chirp, redis, graph, (6, 12), settle, rng, quiet
            )
            dms = await growth_memory.dms_phase(chirp, redis, graph, (4, 8), 2, rng, quiet)
            large = await growth_memory.large_structures(redis)
            leftover = await redis.exists("bench:growth:home", "bench:growth:followers")
    finally:
        await redis.aclose()
    return {"members": members, "posts": posts, "dms": dms, "large": large, "left": leftover}


def test_memory_grows_with_members_posts_and_dms_in_the_families_that_hold_them(
    stack: LocalStack,
) -> None:
    found = asyncio.run(_measure(stack))
    members, posts, dms = found["members"], found["posts"], found["dms"]

    assert members["fit"]["x"] == [0, 4, 8] and members["follows_each"] == 2
    # An account is a hash with its password's argon2 hash in it: some hundreds of bytes.
    assert members["families"]["users:{n}"]["bytes_each"] > 100
    assert not members["families"]["users:{n}"]["expires"]
    assert members["families"]["users:{n}:following"]["bytes_each"] > 0

    assert posts["fit"]["x"] == [0, 6, 12]
    assert posts["bytes_each"] > 0
    assert posts["families"]["posts:{n}"]["bytes_each"] > 50  # the post's own record
    assert posts["families"]["tl:home:{n}"]["bytes_each"] > 0  # fanned out before the snapshot
    assert posts["families"]["posts:idem:{n}:{h}"]["expires"]  # kept for its TTL only
    # Each post reached its author's home and the author's followers' (two follows a member).
    assert posts["homes_per_post"] >= 1

    assert dms["families"]["dms:conv:{n}-{n}:msgs"]["bytes_each"] > 50
    assert dms["messages_per_conversation"] == 2

    large = found["large"]
    assert large["encodings"] == ["skiplist", "hashtable"]
    assert large["full_home_entry_bytes"] > large["large_follower_set_entry_bytes"] > 0
    assert found["left"] == 0  # the scratch keys are gone
