"""A rotated secret on swarm: a new value of FAILWHALE_TOKEN_SECRET becomes a new swarm secret,
the services roll onto it, tokens signed with the old one are refused, a new log-in works, and
the old secret is removed."""

import secrets

import httpx
import pytest

from tests.e2e.swarm.conftest import SwarmStack, docker

pytestmark = [pytest.mark.e2e, pytest.mark.swarm, pytest.mark.timeout(900)]

PASSWORD = "correct-horse-battery-staple"


def token_secret_name(stack: SwarmStack) -> str:
    names = docker(
        "service",
        "inspect",
        stack.service("gateway"),
        "--format",
        "{{range .Spec.TaskTemplate.ContainerSpec.Secrets}}{{.File.Name}}={{.SecretName}} {{end}}",
    ).split()
    return dict(item.split("=", 1) for item in names)["FAILWHALE_TOKEN_SECRET"]


def test_a_rotated_token_secret_rolls_the_services_and_retires_old_tokens(
    swarm_stack: SwarmStack,
) -> None:
    handle = f"rotate_{secrets.token_hex(4)}"
    with httpx.Client(base_url=swarm_stack.gateway_url, timeout=10.0) as client:
        signed_up = client.post("/v1/users", json={"handle": handle, "password": PASSWORD})
        assert signed_up.status_code == 201, signed_up.text
        old_token = {"Authorization": f"Bearer {signed_up.json()['token']}"}
        assert client.get("/v1/timeline", headers=old_token).status_code == 200
        before = token_secret_name(swarm_stack)

        swarm_stack.redeploy(FAILWHALE_TOKEN_SECRET=secrets.token_urlsafe(32))

        after = token_secret_name(swarm_stack)
        assert after != before
        assert client.get("/v1/timeline", headers=old_token).status_code == 401
        logged_in = client.post("/v1/sessions", json={"handle": handle, "password": PASSWORD})
        assert logged_in.status_code == 200, logged_in.text
        new_token = {"Authorization": f"Bearer {logged_in.json()['token']}"}
        assert client.get("/v1/timeline", headers=new_token).status_code == 200
    listed = docker("secret", "ls", "--format", "{{.Name}}").split()
    assert after in listed and before not in listed
