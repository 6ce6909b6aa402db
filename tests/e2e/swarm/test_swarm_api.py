"""The user journeys of tests/e2e (accounts, follows, posts reaching a follower's timeline,
direct messages, what the published port refuses), run against the stack on swarm through its
edge relay; and the shape swarm gives it: timeline as one service with two healthy replicas."""

import httpx
import pytest

from tests.e2e.swarm.conftest import SwarmStack, docker

# The same tests, collected here with this directory's gateway_url (the swarm stack's).
from tests.e2e.test_user_flow import *  # noqa: F403

pytestmark = [pytest.mark.e2e, pytest.mark.swarm, pytest.mark.timeout(900)]


def test_timeline_is_one_service_with_two_running_replicas(swarm_stack: SwarmStack) -> None:
    listed = docker(
        "service",
        "ls",
        "--filter",
        f"label=com.docker.stack.namespace={swarm_stack.name}",
        "--format",
        "{{.Name}} {{.Replicas}}",
    )
    replicas = dict(line.split()[:2] for line in listed.splitlines())
    assert replicas[swarm_stack.service("timeline")] == "2/2", listed
    assert not any(name.endswith(("timeline-1", "timeline-2")) for name in replicas)
    slots = docker(
        "service",
        "ps",
        swarm_stack.service("timeline"),
        "--filter",
        "desired-state=running",
        "--format",
        "{{.Name}} {{.CurrentState}}",
    ).splitlines()
    assert sorted(line.split()[0] for line in slots) == [
        swarm_stack.service("timeline.1"),
        swarm_stack.service("timeline.2"),
    ], slots


def test_secrets_reach_the_services_as_files_not_environment(swarm_stack: SwarmStack) -> None:
    spec = docker(
        "service",
        "inspect",
        swarm_stack.service("gateway"),
        "--format",
        "{{json .Spec.TaskTemplate.ContainerSpec.Env}}",
    )
    assert "FAILWHALE_TOKEN_SECRET_FILE=/run/secrets/FAILWHALE_TOKEN_SECRET" in spec
    assert "FAILWHALE_TOKEN_SECRET=" not in spec
    assert "redis://:" not in spec


def test_locust_web_ui_answers_through_the_edge(swarm_stack: SwarmStack) -> None:
    answer = httpx.get(f"{swarm_stack.locust_url}/worker-count", timeout=10)
    assert answer.status_code == 200, answer.text
