"""Fixtures of the in-process unit tests."""

import pytest

from services.common.auth import TokenKeys
from tests.unit.stack_keys import KEYS


@pytest.fixture
def keys() -> TokenKeys:
    return KEYS


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
