"""The compose stack for end-to-end tests: started once per session under its own project name
and a free host port (so it never clashes with a `make up` stack), always taken down with its
volume. FAILWHALE_E2E_URL=http://host:port runs the tests against a stack that is already up
(and FAILWHALE_E2E_LOCUST_URL names its Locust web UI)."""

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
STACK = ROOT / "docker" / "stack.sh"
PROJECT = os.environ.get("FAILWHALE_E2E_PROJECT", "failwhale-e2e")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _project_containers() -> list[str]:
    listed = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={PROJECT}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return listed.stdout.split()


@pytest.fixture(scope="session")
def locust_port() -> int:
    """The host port of the stack's Locust web UI."""
    return _free_port()


@pytest.fixture(scope="session")
def gateway_url(locust_port: int) -> Iterator[str]:
    existing = os.environ.get("FAILWHALE_E2E_URL")
    if existing:
        yield existing.rstrip("/")
        return
    port = _free_port()
    env = {
        **os.environ,
        "COMPOSE_PROJECT_NAME": PROJECT,
        "FAILWHALE_GATEWAY_PORT": str(port),
        "FAILWHALE_LOCUST_PORT": str(locust_port),
    }
    try:
        subprocess.run([str(STACK), "up"], cwd=ROOT, env=env, check=True)
        yield f"http://127.0.0.1:{port}"
    finally:
        subprocess.run([str(STACK), "down", "--volumes"], cwd=ROOT, env=env, check=True)
        left = _project_containers()
        assert not left, f"containers of {PROJECT} still there after down: {left}"


@pytest.fixture(scope="session")
def locust_url(gateway_url: str, locust_port: int) -> str:
    """Locust's web UI in the stack (FAILWHALE_E2E_LOCUST_URL with FAILWHALE_E2E_URL)."""
    existing = os.environ.get("FAILWHALE_E2E_LOCUST_URL")
    return existing.rstrip("/") if existing else f"http://127.0.0.1:{locust_port}"


def stop_load(locust_url: str, timeout_s: float = 60) -> None:
    """Stops the stack's Locust run and waits until the master no longer says it runs one:
    `/stop` answers before the workers have stopped, and a chaos run that comes next refuses a
    master still running a load."""
    httpx.post(f"{locust_url}/stop", timeout=30)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = httpx.get(f"{locust_url}/stats/requests", timeout=10).json().get("state")
        if state not in ("spawning", "running"):
            return
        time.sleep(0.5)
    raise AssertionError(f"the Locust master still runs a load {timeout_s:g} s after /stop")
