"""Fixtures of the in-process unit tests."""

import pytest

from services.common.auth import TokenKeys


@pytest.fixture
def keys() -> TokenKeys:
    # 64 bytes: long enough for every HMAC size, so PyJWT warns about none of them.
    return TokenKeys(user_secret="u" * 64, internal_secret="i" * 64)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
