"""The Redis guard: a connection closed under a command is an outage the breaker counts, not a
500; other errors pass through as they are."""

import pytest
from redis.exceptions import ConnectionError

from services.common.breaker import CLOSED, OPEN, AsyncBreaker, BreakerConfig
from services.common.redis_store import _Guard

pytestmark = pytest.mark.anyio

# What uvloop raises for a write on a transport Redis reset (asyncio's loop raises OSError).
UVLOOP_CLOSED = RuntimeError(
    "unable to perform operation on <TCPTransport closed=True reading=False 0x7f3c>; "
    "the handler is closed"
)


def guard(fail_max: int = 2) -> _Guard:
    return _Guard(AsyncBreaker("redis", BreakerConfig(fail_max=fail_max, reset_timeout_s=60)))


async def test_a_transport_closed_under_a_command_is_a_redis_connection_error() -> None:
    async def write_on_a_reset_connection() -> None:
        raise UVLOOP_CLOSED

    with pytest.raises(ConnectionError) as raised:
        await guard().run(write_on_a_reset_connection)
    assert raised.value.__cause__ is UVLOOP_CLOSED


async def test_closed_transports_count_as_failures_and_open_the_breaker() -> None:
    async def write_on_a_reset_connection() -> None:
        raise UVLOOP_CLOSED

    guarded = guard(fail_max=2)
    assert guarded.breaker is not None and guarded.breaker.state == CLOSED
    for _ in range(2):
        with pytest.raises(ConnectionError):
            await guarded.run(write_on_a_reset_connection)
    assert guarded.breaker.state == OPEN


async def test_the_layer_off_translates_it_too() -> None:
    async def write_on_a_reset_connection() -> None:
        raise UVLOOP_CLOSED

    with pytest.raises(ConnectionError):
        await _Guard(None).run(write_on_a_reset_connection)


async def test_other_runtime_errors_are_not_taken_for_an_outage() -> None:
    async def a_bug() -> None:
        raise RuntimeError("dictionary changed size during iteration")

    with pytest.raises(RuntimeError, match="dictionary changed size"):
        await guard().run(a_bug)
