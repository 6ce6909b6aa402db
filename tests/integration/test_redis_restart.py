"""After a Redis restart, the services' pooled connections to the old process are replaced
before use: the first requests are answered, not refused with 503."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from stack.local import LocalStack
from tests.integration.chirp import eventually, new_handle
from tests.integration.own_stack import own_stack

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with own_stack(Path(tmp_path_factory.mktemp("redis-restart"))) as local:
        yield local


def sign_up_status(api: httpx.Client) -> int:
    account = {"handle": new_handle("restart"), "password": PASSWORD}
    return api.post("/v1/users", json=account).status_code


def test_the_first_requests_after_a_redis_restart_are_answered(stack: LocalStack) -> None:
    with httpx.Client(base_url=stack.layout.gateway_url, timeout=10) as api:
        # every service has pooled connections to the Redis about to go away
        assert [sign_up_status(api) for _ in range(3)] == [201, 201, 201]
        stack.restart("redis")
        eventually(lambda: api.get("/readyz").status_code, lambda status: status == 200)
        assert [sign_up_status(api) for _ in range(3)] == [201, 201, 201]
