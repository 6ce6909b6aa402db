"""What the fan-out benchmark does to a local stack: authors given many followers straight in
users' Redis (not 100k sign-ups; users makes an author with enough followers heavy on its first
post), posts through the gateway, the Redis commands and CPU a batch
of posts costs, and when each post first shows in sampled followers' home timelines."""

import asyncio
import time
import uuid
from dataclasses import dataclass

import httpx
import redis.asyncio as aioredis

from bench.read_path import cpu_seconds
from bench.seeded import Member
from services.common.auth import TokenKeys, User, issue_user_token
from services.common.wire import POST_EVENTS_STREAM
from stack.local import LocalStack

PASSWORD = "bench-fanout-password"
# Followers that are no account: ids far above any the stack gives out, a range per author.
SYNTHETIC_BASE = 10_000_000
SYNTHETIC_SPAN = 1_000_000
SEED_CHUNK = 10_000
# The processes a post goes through on its way to home timelines.
WRITE_PATH = ("gateway", "posts", "users", "timeline-1", "timeline-2", "redis")
IDLE_S = 1.5  # how long the stack's background work is measured, to take it off a batch
POLL_S = 0.01
VISIBLE_TIMEOUT_S = 60.0
DONE_TIMEOUT_S = 180.0


@dataclass(frozen=True)
class Author:
    member: Member
    followers: int
    sampled: list[Member]  # followers whose home timelines are read


class StackDriver:
    def __init__(self, stack: LocalStack, client: httpx.AsyncClient, redis: "aioredis.Redis"):
        self.stack = stack
        self.client = client
        self.redis = redis
        self.keys = TokenKeys(stack.layout.token_secret, stack.layout.internal_secret)
        self._authors = 0

    async def sign_up(self, prefix: str) -> Member:
        handle = f"{prefix}_{uuid.uuid4().hex[:16]}"
        answer = await self.client.post("/v1/users", json={"handle": handle, "password": PASSWORD})
        answer.raise_for_status()
        body = answer.json()
        return Member(int(body["id"]), handle, str(body["token"]))

    async def follow(self, follower: Member, followee: Member) -> None:
        answer = await self.client.put(f"/v1/follows/{followee.handle}", headers=follower.auth)
        answer.raise_for_status()

    async def author_with_followers(self, followers: int, sampled: int) -> Author:
        """An author with `followers` followers, ids added to its follower set in users' Redis
        (no accounts behind them). `sampled` of them, spread over the follower list from its
        first id to its last (fan-out goes through it in order), read their home timelines
        through the gateway with tokens issued for them."""
        author = await self.sign_up("author")
        base = SYNTHETIC_BASE + self._authors * SYNTHETIC_SPAN
        self._authors += 1
        for start in range(0, followers, SEED_CHUNK):
            chunk = range(base + start, base + min(followers, start + SEED_CHUNK))
            await self.redis.sadd(f"users:{author.id}:followers", *chunk)
        fans: list[Member] = []
        for n in range(sampled):
            fan_id = base + (followers - 1) * n // max(1, sampled - 1)
            await self.redis.sadd(f"users:{fan_id}:following", author.id)
            handle = f"fan_{fan_id}"
            fans.append(Member(fan_id, handle, issue_user_token(self.keys, User(fan_id, handle))))
        return Author(author, followers, fans)

    async def post(self, author: Member, text: str) -> tuple[int, float]:
        """Posts; returns the post's id and when its acknowledgement arrived."""
        key = uuid.uuid4().hex
        for attempt in range(3):  # keyed: a retry cannot make a second post
            try:
                answer = await self.client.post(
                    "/v1/posts",
                    json={"text": text},
                    headers=author.auth | {"Idempotency-Key": key},
                )
                answer.raise_for_status()
                return int(answer.json()["id"]), time.monotonic()
            except httpx.TransportError:
                if attempt == 2:
                    raise
                await asyncio.sleep(0.5)
        raise AssertionError("unreachable")

    async def visible(self, readers: list[Member], post_id: int, acked: float) -> list[float]:
        """Seconds from the acknowledgement to the post's first sight on each reader's home
        timeline (polled every POLL_S); a reader that never sees it within the timeout counts
        the whole timeout. Degraded answers do not count: the gateway's fan-out on read (when
        a replica busy with a long fan-out does not answer in time) shows a post without its
        having reached the home timeline."""

        async def watch(reader: Member) -> float:
            deadline = acked + VISIBLE_TIMEOUT_S
            while time.monotonic() < deadline:
                answer = await self.client.get(
                    "/v1/timeline", params={"limit": 5}, headers=reader.auth
                )
                fresh = answer.status_code == 200 and "x-degraded" not in answer.headers
                if fresh and any(item["id"] == post_id for item in answer.json()["items"]):
                    return max(0.0, time.monotonic() - acked)
                await asyncio.sleep(POLL_S)
            return VISIBLE_TIMEOUT_S

        return list(await asyncio.gather(*(watch(r) for r in readers)))

    async def fanned_out(self) -> None:
        """Until timeline's consumer group has read and acknowledged every post event."""
        deadline = time.monotonic() + DONE_TIMEOUT_S
        while time.monotonic() < deadline:
            groups = await self.redis.xinfo_groups(POST_EVENTS_STREAM)
            mine = [g for g in groups if g["name"] == "timeline"]
            if mine and int(mine[0]["lag"] or 0) == 0 and int(mine[0]["pending"]) == 0:
                return
            await asyncio.sleep(0.05)
        raise TimeoutError(f"fan-out not done after {DONE_TIMEOUT_S:.0f} s")

    def pids(self, names: tuple[str, ...] = WRITE_PATH) -> list[int]:
        return [self.stack.processes[name].pid for name in names]

    async def commands(self) -> int:
        stats = await self.redis.info("commandstats")
        return sum(int(entry["calls"]) for entry in stats.values())

    async def idle_rates(self) -> tuple[float, float]:
        """Redis commands and CPU seconds per second while nothing is asked of the stack
        (consumers polling, leases renewed), to take off what a batch of posts measured."""
        commands, cpu, start = await self.commands(), cpu_seconds(self.pids()), time.monotonic()
        await asyncio.sleep(IDLE_S)
        elapsed = time.monotonic() - start
        return (
            (await self.commands() - commands) / elapsed,
            (cpu_seconds(self.pids()) - cpu) / elapsed,
        )

    async def write_cost(self, author: Member, posts: int) -> dict[str, float]:
        """Redis commands and CPU (ms) per post of `posts` posts, from the first request to the
        last post fanned out, less the idle rates over the same time."""
        await self.fanned_out()
        idle_commands, idle_cpu = await self.idle_rates()
        commands, cpu, start = await self.commands(), cpu_seconds(self.pids()), time.monotonic()
        for n in range(posts):
            await self.post(author, f"cost {n} #bench")
        await self.fanned_out()
        elapsed = time.monotonic() - start
        used_commands = await self.commands() - commands - idle_commands * elapsed
        used_cpu = cpu_seconds(self.pids()) - cpu - idle_cpu * elapsed
        return {
            "commands_per_post": round(max(0.0, used_commands) / posts, 1),
            "cpu_ms_per_post": round(max(0.0, used_cpu) * 1000 / posts, 2),
            "seconds": round(elapsed, 2),
        }
