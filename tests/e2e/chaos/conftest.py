"""The docker backend on the session's compose stack (tests/e2e/conftest.py): a backend with a
journal of its own, and a sweep after the tests whatever happened, so the stack is whole for
the tests that follow and `compose down` finds no helper on its network."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from chaos.backends.docker.driver import DockerBackend
from chaos.journal import Journal
from tests.e2e.conftest import PROJECT
from tests.integration.chirp import settle_breakers


@pytest.fixture(scope="session")
def journal_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chaos-journal")


@pytest.fixture(autouse=True)
def breakers_closed_after(gateway_url: str) -> Iterator[None]:
    """A fault's effects outlive it for a while (a breaker waits its reset timeout): each test
    leaves the gateway's breakers closed again, so no fault leaks into the next test."""
    yield
    settle_breakers(gateway_url, timeout_s=60)


@pytest.fixture(scope="session")
def docker_backend(gateway_url: str, journal_dir: Path) -> Iterator[DockerBackend]:
    backend = DockerBackend(PROJECT, Journal.for_scope("docker", PROJECT, journal_dir))
    try:
        yield backend
    finally:
        backend.sweep()
        backend.close()
