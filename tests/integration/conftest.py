"""A real local stack for the integration tests: redis-server and one uvicorn per service, on
free ports, started once per session and always torn down."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from services.common.auth import SERVICE_HEADER, TokenKeys, issue_service_token
from stack.layout import LocalLayout, free_layout
from stack.local import LocalStack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    workdir: Path = tmp_path_factory.mktemp("stack")
    local = LocalStack(workdir, free_layout())
    local.up()
    try:
        yield local
    finally:
        local.down()


@pytest.fixture(scope="session")
def layout(stack: LocalStack) -> LocalLayout:
    return stack.layout


@pytest.fixture
def api(layout: LocalLayout) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=layout.gateway_url, timeout=10) as client:
        yield client


@pytest.fixture(scope="session")
def store(layout: LocalLayout) -> Iterator[redis.Redis]:
    """The stack's Redis, to look behind the API (read back, replay stream events)."""
    client = redis.Redis.from_url(layout.redis_url, decode_responses=True, socket_timeout=5)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def token_keys(layout: LocalLayout) -> TokenKeys:
    """The secrets the stack's services run with (fresh ones of the test stack's own)."""
    return TokenKeys(layout.token_secret, layout.internal_secret)


@pytest.fixture
def service_credential(token_keys: TokenKeys) -> dict[str, str]:
    """What a service sends on internal calls; for calling a service directly."""
    return {SERVICE_HEADER: issue_service_token(token_keys, "integration-tests")}
