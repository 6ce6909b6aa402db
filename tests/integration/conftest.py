"""A real local stack for the integration tests: redis-server and one uvicorn per service, on
free ports, started once per session and always torn down."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from failwhale.layout import LocalLayout, free_layout
from failwhale.localstack import LocalStack


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
