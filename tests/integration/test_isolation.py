"""Floods of one kind of request against the real stack: a flood of log-ins leaves the rest of
users alone, trends reads stay bounded, and callers that give up on trends leave one call
behind, not one each."""

import asyncio
import contextlib
import signal
import time
from collections import Counter

import httpx
import pytest
import redis
import redis.asyncio as aioredis

from services.trends.store import TAGS_PER_MINUTE, TrendCounts
from stack.layout import LocalLayout
from stack.local import LocalStack
from tests.integration.chirp import PASSWORD, eventually, new_handle, sign_up

pytestmark = pytest.mark.integration

FLOODERS = 100
GIVING_UP = 30


async def _log_in_flood(url: str, stop: asyncio.Event, answers: Counter[int]) -> None:
    limits = httpx.Limits(max_connections=FLOODERS + 10)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:

        async def flooder() -> None:
            while not stop.is_set():
                guess = {"handle": new_handle("flood"), "password": "wrong-" + PASSWORD}
                answers[(await client.post("/v1/sessions", json=guess)).status_code] += 1

        await asyncio.gather(*(flooder() for _ in range(FLOODERS)))


async def _during_a_log_in_flood(url: str, token: str, readers: list[str]) -> list[str]:
    """Follows, handle look-ups and sign-ups made while a flood of log-ins goes on; returns
    what went wrong with them (nothing, if the flood is kept to its own bulkhead)."""
    stop, flood_answers = asyncio.Event(), Counter[int]()
    flood = asyncio.create_task(_log_in_flood(url, stop, flood_answers))
    wrong: list[str] = []
    try:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            await asyncio.sleep(0.5)  # the flood's first wave is in users
            follower = {"Authorization": f"Bearer {token}"}
            for handle in readers:  # never looked up before: each asks users for the handle
                answer = await client.put(f"/v1/follows/{handle}", headers=follower)
                if answer.status_code != 204:
                    wrong.append(f"follow {handle}: {answer.status_code} {answer.text}")
                answer = await client.get(f"/v1/users/{handle}/posts", headers=follower)
                if answer.status_code != 200:
                    wrong.append(f"posts of {handle}: {answer.status_code} {answer.text}")
            for _ in range(4):
                account = {"handle": new_handle("joiner"), "password": PASSWORD}
                answer = await client.post("/v1/users", json=account)
                if answer.status_code != 201:
                    wrong.append(f"sign-up: {answer.status_code} {answer.text}")
    finally:
        stop.set()
        await flood
    # The flood was real: log-ins were refused for want of room, not only for wrong passwords.
    assert flood_answers[503] > 0, flood_answers
    assert flood_answers[401] > 0, flood_answers
    return wrong


def test_a_flood_of_log_ins_leaves_follows_look_ups_and_sign_ups_alone(
    api: httpx.Client, layout: LocalLayout
) -> None:
    follower = sign_up(api, "follower")
    readers = [sign_up(api, "followee").handle for _ in range(8)]
    wrong = asyncio.run(_during_a_log_in_flood(layout.gateway_url, follower.token, readers))
    assert wrong == []


def test_a_minute_keeps_at_most_its_cap_of_tags(layout: LocalLayout) -> None:
    minute = 7  # a minute of 1970: no other test counts there
    key = f"trends:minute:{minute}"

    async def count_floods() -> int:
        client = aioredis.Redis.from_url(layout.redis_url, decode_responses=True)
        try:
            counts = TrendCounts(client)
            for post in range(30):  # 30 posts of 25 tags: 750 tags in the minute
                tags = [f"flood{post}x{i}" for i in range(25)]
                await counts.count(10**15 + post, minute * 60_000, tags)
            await counts.count(10**15 + 99, minute * 60_000, ["steady"])
            await counts.count(10**15 + 98, minute * 60_000, ["steady"])
            cardinality: int = await client.zcard(key)
            assert await client.zscore(key, "steady") == 2  # the counted tag is kept
            return cardinality
        finally:
            await client.delete(key, *[f"trends:seen:{10**15 + p}" for p in range(100)])
            await client.aclose()

    assert asyncio.run(count_floods()) == TAGS_PER_MINUTE


def _range_reads(store: redis.Redis) -> int:
    stats = store.info("commandstats")
    return sum(int(stats.get(f"cmdstat_{c}", {}).get("calls", 0)) for c in ("zrange", "zrevrange"))


def _settled(store: redis.Redis) -> int:
    """The count of sorted-set range reads once no more are being made."""
    last = [-1]

    def probe() -> int:
        time.sleep(0.5)
        return _range_reads(store)

    def still(now: int) -> bool:
        settled = now == last[0]
        last[0] = now
        return settled

    return eventually(probe, still, timeout_s=120)


async def _give_up_on(url: str, path: str, headers: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=0.05) as client:

        async def impatient() -> None:
            with contextlib.suppress(httpx.TimeoutException):  # gave up, as a user would
                await client.get(path, headers=headers)

        await asyncio.gather(*(impatient() for _ in range(GIVING_UP)))


def test_abandoned_trend_reads_do_not_pile_up_in_trends(
    layout: LocalLayout, store: redis.Redis, service_credential: dict[str, str]
) -> None:
    now_minute = int(time.time() // 60)
    keys = [f"trends:minute:{m}" for m in range(now_minute - 59, now_minute + 1)]
    try:
        with store.pipeline(transaction=False) as pipe:
            for key in keys:  # a full window, as counted before minutes were capped
                pipe.zadd(key, {f"old{i}": 1 for i in range(TAGS_PER_MINUTE + 100)})
                pipe.expire(key, 600)
            pipe.execute()
        time.sleep(6)  # past any ranking trends keeps
        before = _settled(store)
        asyncio.run(_give_up_on(layout.url("trends"), "/internal/trends", service_credential))
        reads = _settled(store) - before
    finally:
        store.delete(*keys)
    # One ranking reads each minute of the window once; the callers shared it (a slow machine
    # may let the ranking expire once while they arrive).
    assert reads <= 2 * len(keys), f"{reads} range reads for {GIVING_UP} callers"


def _calls_to_trends(gateway_url: str) -> float:
    """Calls the gateway made to trends, whatever their outcome."""
    text = httpx.get(f"{gateway_url}/metrics", timeout=5).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("failwhale_downstream_calls_total{") and 'dependency="trends"' in line
    )


def test_abandoned_trend_reads_do_not_pile_up_in_the_gateway(stack: LocalStack) -> None:
    url = stack.layout.gateway_url
    before = _calls_to_trends(url)
    stack.send_signal("trends", signal.SIGSTOP)  # trends answers nothing: every reader gives up
    try:
        asyncio.run(_give_up_on(url, "/v1/trends", {}))
        time.sleep(0.5)  # past the edge's deadline: every call the gateway made has ended
    finally:
        stack.send_signal("trends", signal.SIGCONT)
    calls = _calls_to_trends(url) - before
    assert calls <= 2, f"{calls} calls to trends for {GIVING_UP} readers who gave up"
