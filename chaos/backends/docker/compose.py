"""A compose project brought up again as it runs, with other settings (resilience on or off, for
`failwhale chaos compare`): the variables its containers were created with are read back from
them, so its published ports, compose files, image and secrets stay as they were."""

import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from chaos.backends.base import FaultError

REPO = Path(__file__).resolve().parents[3]
OFFLINE_FILE = "docker-compose.offline.yml"
CONFIG_FILES = "com.docker.compose.project.config_files"
# Compose service -> (container port, the variable that publishes it on the host).
PUBLISHED = {
    "gateway": ("8000/tcp", "FAILWHALE_GATEWAY_PORT"),
    "locust-master": ("8089/tcp", "FAILWHALE_LOCUST_PORT"),
}
PUBLISH_ADDRESS = "FAILWHALE_PUBLISH_ADDRESS"
APP_IMAGE = "FAILWHALE_APP_IMAGE"
# Settings the app containers get from a compose variable of the same name.
CARRIED = (
    "FAILWHALE_TOKEN_SECRET",
    "FAILWHALE_INTERNAL_SECRET",
    "FAILWHALE_LOG_LEVEL",
    "FAILWHALE_FAULT_HOOK",
)


def environment_of(attrs: dict[str, Any]) -> dict[str, str]:
    """A container's environment, from its `docker inspect` attributes."""
    env = (attrs.get("Config") or {}).get("Env") or []
    return dict(e.split("=", 1) for e in env if "=" in e)


def recreate(
    project: str, containers: dict[str, dict[str, Any]], overrides: dict[str, str]
) -> None:
    """`docker/stack.sh up` for the project (service name -> inspect attributes of its
    containers), with its own variables and `overrides` over them."""
    env = os.environ | compose_variables(containers) | {"COMPOSE_PROJECT_NAME": project}
    env |= overrides
    said = " ".join(f"{k}={v}" for k, v in overrides.items())
    # Compose's output goes to stderr: stdout is kept for `compare --json`.
    done = subprocess.run(
        [str(REPO / "docker" / "stack.sh"), "up"], env=env, stdout=sys.stderr, check=False
    )
    if done.returncode != 0:
        raise FaultError(
            f"docker/stack.sh up for {project} with {said} failed (exit {done.returncode})"
        )


def compose_variables(containers: dict[str, dict[str, Any]]) -> dict[str, str]:
    """The compose variables that recreate a running project as it is, from its containers'
    `docker inspect` attributes (service name -> attrs): the offline compose file or not, the
    address and host ports it publishes, its app image, and the secrets and settings its app
    containers run with. Without them a recreate would take the defaults of whatever shell
    runs it (another port, another secret, a registry probe)."""
    variables: dict[str, str] = {}
    for service, (port, variable) in PUBLISHED.items():
        bindings = (containers.get(service, {}).get("HostConfig") or {}).get("PortBindings") or {}
        if bindings.get(port):
            variables[variable] = str(bindings[port][0]["HostPort"])
            if bindings[port][0].get("HostIp"):
                variables[PUBLISH_ADDRESS] = str(bindings[port][0]["HostIp"])
    gateway = containers.get("gateway")
    if gateway is None:
        return variables
    if image := gateway.get("Config", {}).get("Image"):
        variables[APP_IMAGE] = str(image)
    files = (gateway.get("Config", {}).get("Labels") or {}).get(CONFIG_FILES, "")
    variables["OFFLINE"] = "1" if OFFLINE_FILE in files else "0"
    env = environment_of(gateway)
    variables |= {name: env[name] for name in CARRIED if name in env}
    password = urlsplit(env.get("FAILWHALE_REDIS_URL", "")).password
    if password:
        variables["FAILWHALE_REDIS_PASSWORD"] = password
    return variables
