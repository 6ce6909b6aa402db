"""The gateway's follow lists for fan-out on read: warmed in the background, served while fresh
without a call, remembered while users fails, dropped when the reader's follows change."""

import asyncio

import httpx
import pytest

from services.common.auth import ServiceCredential, TokenKeys
from services.common.downstream import Downstream
from services.common.errors import DependencyUnavailable
from services.common.metrics import ServiceMetrics
from services.gateway.follows import FollowLists
from services.gateway.policies import POLICIES

pytestmark = pytest.mark.anyio


class Users:
    def __init__(self) -> None:
        self.following: list[int] = [2, 3]
        self.up = True
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if not self.up:
            return httpx.Response(503)
        return httpx.Response(200, json={"items": list(self.following)})


@pytest.fixture
async def users() -> Users:
    return Users()


def lists(users: Users, fresh_s: float = 60.0) -> FollowLists:
    client = httpx.AsyncClient(transport=httpx.MockTransport(users))
    credential = ServiceCredential(TokenKeys("u" * 64, "i" * 64), "gateway")
    downstream = Downstream(
        "users", "http://users", client, credential, ServiceMetrics("gateway"), POLICIES["users"]
    )
    return FollowLists(downstream, max_bytes=1_000_000, fresh_s=fresh_s)


async def test_a_warmed_list_is_served_without_asking_users_again(users: Users) -> None:
    follows = lists(users)
    follows.warm(1)
    follows.warm(1)  # one fetch at a time per reader
    await asyncio.sleep(0.05)
    assert users.calls == 1
    assert await follows.of(1) == ([2, 3], False)
    assert users.calls == 1


async def test_a_stale_list_is_asked_again(users: Users) -> None:
    follows = lists(users, fresh_s=0.0)
    assert await follows.of(1) == ([2, 3], False)
    users.following = [4]
    assert await follows.of(1) == ([4], False)
    assert users.calls == 2


async def test_while_users_fails_the_remembered_list_is_served_flagged(users: Users) -> None:
    follows = lists(users, fresh_s=0.0)
    await follows.of(1)
    users.up = False
    assert await follows.of(1) == ([2, 3], True)
    with pytest.raises(DependencyUnavailable):
        await follows.of(7)  # never heard of: nothing to serve


async def test_a_follow_change_drops_the_list(users: Users) -> None:
    follows = lists(users)
    await follows.of(1)
    users.following = [2, 3, 5]
    follows.forget(1)
    assert await follows.of(1) == ([2, 3, 5], False)


async def test_a_fetch_started_before_a_change_keeps_nothing(users: Users) -> None:
    follows = lists(users)
    started = asyncio.Event()
    release = asyncio.Event()

    async def slow(request: httpx.Request) -> httpx.Response:
        started.set()
        await release.wait()
        return httpx.Response(200, json={"items": [2]})

    follows.users.client = httpx.AsyncClient(transport=httpx.MockTransport(slow))
    follows.warm(1)
    await started.wait()
    follows.forget(1)  # the user followed someone while the old list was on its way
    release.set()
    await asyncio.sleep(0.05)
    follows.users.client = httpx.AsyncClient(transport=httpx.MockTransport(users))
    assert await follows.of(1) == ([2, 3], False)
    await follows.close()
