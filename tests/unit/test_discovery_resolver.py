"""The system's resolver as discovery uses it: addresses of a name, and lookups bounded in time
and in number (one thread, one lookup at a time). (A name without addresses needs a DNS server's
answer: tests/integration/test_replicas.py has one.)"""

import asyncio
import threading

import pytest

from services.gateway.discovery import LookupFailed, SystemResolver

pytestmark = pytest.mark.anyio


async def test_a_name_resolves_to_its_addresses_and_an_address_to_a_name() -> None:
    resolver = SystemResolver(timeout_s=5.0)
    try:
        assert "127.0.0.1" in await resolver.addresses("localhost", 8000)
        assert await resolver.addresses("127.0.0.1", 8000) == ["127.0.0.1"]
        assert await resolver.name_of("127.0.0.1") is not None
    finally:
        resolver.close()


async def test_a_lookup_that_does_not_return_is_given_up_and_blocks_no_other_thread() -> None:
    resolver = SystemResolver(timeout_s=0.05)
    stuck = threading.Event()
    try:
        with pytest.raises(LookupFailed, match="no answer within"):
            await resolver._lookup(stuck.wait, 5.0)
        # Still stuck in its one thread: the next lookup fails at once instead of queueing
        # behind it or starting a thread of its own.
        with pytest.raises(LookupFailed, match="has not returned"):
            await resolver.addresses("localhost", 8000)
        assert await resolver.name_of("127.0.0.1") is None
        stuck.set()
        assert "127.0.0.1" in await _eventually_answered(resolver)
    finally:
        stuck.set()
        resolver.close()


async def _eventually_answered(resolver: SystemResolver) -> list[str]:
    for _ in range(100):
        try:
            return await resolver.addresses("localhost", 8000)
        except LookupFailed:
            await asyncio.sleep(0.01)
    raise AssertionError("the resolver never answered again")
