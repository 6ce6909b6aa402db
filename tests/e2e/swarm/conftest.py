"""The stack on a one-node Docker swarm for end-to-end tests: deployed once per session under its
own stack name (FAILWHALE_E2E_SWARM_STACK, default fwtest-swarm) with its edge relay on free
ports, through the same path as `make up BACKEND=swarm` (docker/swarm.sh: image build, swarm
init where none exists, deploy, wait). Always removed with its volume; the swarm is left only
when this session created it and no other stack runs there."""

import os
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from chaos.backends.swarm.driver import SwarmBackend
from chaos.journal import Journal

ROOT = Path(__file__).resolve().parents[3]
SWARM = ROOT / "docker" / "swarm.sh"
STACK = os.environ.get("FAILWHALE_E2E_SWARM_STACK", "fwtest-swarm")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def docker(*args: str, check: bool = True) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def running_containers(service: str) -> list[str]:
    """The containers of the tasks swarm wants running (not those of replaced tasks, which may
    still be stopping)."""
    tasks = docker("service", "ps", "-q", "--filter", "desired-state=running", service).split()
    # a task may be gone between the two calls: check=False, and no id
    ids = (
        docker("inspect", "--format", "{{.Status.ContainerStatus.ContainerID}}", task, check=False)
        for task in tasks
    )
    return [container.strip() for container in ids if container.strip()]


@dataclass
class SwarmStack:
    """A deployed stack: its name, the URLs its edge relay publishes, and the environment it
    was deployed with (`redeploy` changes settings on the running stack)."""

    name: str
    gateway_url: str
    locust_url: str
    env: dict[str, str] = field(repr=False)

    def service(self, short: str) -> str:
        """The swarm service's full name, e.g. `fwtest-swarm_timeline`."""
        return f"{self.name}_{short}"

    def redeploy(self, **settings: str) -> None:
        """Deploys the same images again with these settings (e.g. FAILWHALE_SELF_HEALING="off")
        and waits until every replica is healthy; later redeploys keep them unless given again."""
        self.env.update(settings)
        # The images running now, not a rebuild: only the settings change.
        images = {
            variable: docker(
                "service",
                "inspect",
                self.service(service),
                "--format",
                "{{.Spec.TaskTemplate.ContainerSpec.Image}}",
            )
            .strip()
            .split("@")[0]
            for variable, service in (
                ("FAILWHALE_APP_IMAGE", "gateway"),
                ("FAILWHALE_REDIS_IMAGE", "redis"),
            )
        }
        env = {**self.env, **images, "OFFLINE": "0"}
        python = ROOT / ".venv" / "bin" / "python"
        subprocess.run([str(python), "-m", "stack.swarm", "up"], cwd=ROOT, env=env, check=True)


@pytest.fixture(scope="session")
def swarm_stack() -> Iterator[SwarmStack]:
    gateway_port, locust_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "COMPOSE_PROJECT_NAME": STACK,
        "FAILWHALE_GATEWAY_PORT": str(gateway_port),
        "FAILWHALE_LOCUST_PORT": str(locust_port),
        "FAILWHALE_SELF_HEALING": "on",
    }
    env.setdefault("OFFLINE", "auto")
    stack = SwarmStack(
        name=STACK,
        gateway_url=f"http://127.0.0.1:{gateway_port}",
        locust_url=f"http://127.0.0.1:{locust_port}",
        env=env,
    )
    try:
        subprocess.run([str(SWARM), "up"], cwd=ROOT, env=env, check=True)
        yield stack
    finally:
        subprocess.run([str(SWARM), "down", "--volumes"], cwd=ROOT, env=env, check=True)
        label = f"label=com.docker.stack.namespace={STACK}"
        left = docker("service", "ls", "-q", "--filter", label, check=False).split()
        assert not left, f"services of {STACK} still there after down: {left}"


@pytest.fixture(scope="session")
def gateway_url(swarm_stack: SwarmStack) -> str:
    """The black-box tests of tests/e2e, pointed at the swarm stack's edge relay."""
    return swarm_stack.gateway_url


@pytest.fixture(scope="session")
def locust_url(swarm_stack: SwarmStack) -> str:
    return swarm_stack.locust_url


@pytest.fixture(scope="module")
def backend(
    swarm_stack: SwarmStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SwarmBackend]:
    """The swarm backend on the session's stack, with a journal of the module's own; swept at
    the end."""
    journal = Journal.for_scope("swarm", swarm_stack.name, tmp_path_factory.mktemp("journal"))
    found = SwarmBackend(swarm_stack.name, journal)
    try:
        yield found
    finally:
        found.sweep()
        found.close()
