"""The seed file on swarm: `failwhale seed`'s accounts file reaches the Locust master and its
workers as a swarm config at /seed/seed-users.json (no bind mount), with the same content."""

import subprocess
from pathlib import Path

import pytest

from stack.seed import run_seed
from tests.e2e.swarm.conftest import SwarmStack, docker, running_containers

pytestmark = [pytest.mark.e2e, pytest.mark.swarm, pytest.mark.timeout(900)]


def test_the_seed_file_reaches_every_locust_container_as_a_config(
    swarm_stack: SwarmStack, tmp_path: Path
) -> None:
    seed_file = tmp_path / "seed-users.json"
    run_seed(swarm_stack.gateway_url, 4, 3, seed_file)
    swarm_stack.redeploy(
        FAILWHALE_SEED_DIR=str(tmp_path), FAILWHALE_LOCUST_ACCOUNTS="/seed/seed-users.json"
    )
    for service in ("locust", "locust-worker"):
        mounts = docker(
            "service",
            "inspect",
            swarm_stack.service(service),
            "--format",
            "{{json .Spec.TaskTemplate.ContainerSpec.Mounts}}",
        )
        assert mounts.strip() in ("null", "[]"), mounts
        containers = running_containers(swarm_stack.service(service))
        assert containers, f"no running {service} container"
        for container in containers:
            inside = subprocess.run(
                ["docker", "exec", container, "cat", "/seed/seed-users.json"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            assert inside == seed_file.read_text()
