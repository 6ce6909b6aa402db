"""Switching the running stack between resilience on and off, for `failwhale chaos compare`:
the same services, ports, secrets and data, with only the layer taken away.

The switch goes through the backend object the runs use. A local stack is restarted by the
backend itself, so the process ids it signals afterwards are those of the restarted processes
(a second view of the stack would leave the backend signalling the pids of the stack before the
switch). A compose project is brought up again with the variables its containers were created
with, read back from them, so its published ports, compose files and secrets stay as they were.
A swarm stack's services are updated in place (the orchestrator replaces their tasks).

Self-healing (the orchestrator replacing dead tasks) is the other switch, on swarm only: a
scenario that requires it on or off has the stack switched for its run, and back after it.
"""

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from chaos.backends.base import Backend
from stack.local import StackError

REPO = Path(__file__).resolve().parents[1]
RESILIENCE = "FAILWHALE_RESILIENCE"
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


class ModeError(RuntimeError):
    pass


def current_mode(backend: Backend) -> str:
    try:
        mode = httpx.get(f"{backend.gateway_url}/v1/status", timeout=5).json()["resilience"]
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        raise ModeError(f"no stack answers at {backend.gateway_url}: {exc}") from exc
    return str(mode)


def switch_mode(backend: Backend, mode: str) -> None:
    """Restarts the stack's services with FAILWHALE_RESILIENCE=mode (nothing if already so; a
    stack that does not answer at all is started in that mode)."""
    try:
        if current_mode(backend) == mode:
            return
    except ModeError:
        pass
    from chaos.backends.docker.driver import DockerBackend
    from chaos.backends.local.driver import LocalBackend
    from chaos.backends.swarm.driver import SwarmBackend

    if isinstance(backend, SwarmBackend):
        _update_stack(backend, mode)
    elif isinstance(backend, LocalBackend):
        try:
            backend.restart_stack({RESILIENCE: mode})
        except StackError as exc:
            raise ModeError(f"the local stack did not start with resilience {mode}: {exc}") from exc
    elif isinstance(backend, DockerBackend):
        _recreate_project(backend, mode)
    else:
        raise ModeError(f"no way to switch resilience on the {backend.name} backend")
    if current_mode(backend) != mode:
        raise ModeError(f"the stack did not come back with resilience {mode}")


def _update_stack(backend: Any, mode: str) -> None:
    """FAILWHALE_RESILIENCE=mode on every service of the swarm stack that has the setting."""
    from chaos.backends.swarm.engine import SwarmError

    try:
        backend.engine.set_env(RESILIENCE, mode)
    except SwarmError as exc:
        raise ModeError(f"the swarm stack did not take resilience {mode}: {exc}") from exc
    _wait_answers(backend)


def _wait_answers(backend: Any, timeout_s: float = 120.0) -> None:
    """Until the gateway answers its status again (its tasks were replaced)."""
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            current_mode(backend)
            return
        except ModeError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def self_healing_of(backend: Backend) -> str | None:
    """on, off (or mixed) on a backend whose orchestrator replaces dead tasks; None elsewhere."""
    reader = getattr(backend, "self_healing", None)
    return str(reader()) if callable(reader) else None


def switch_self_healing(backend: Backend, mode: str) -> None:
    """Every service of the stack restarts any dead task (on) or none (off); returns once the
    services have their new tasks and the gateway answers."""
    setter = getattr(backend, "set_self_healing", None)
    if not callable(setter):
        raise ModeError(
            f"self-healing is an orchestrator's: the {backend.name} backend has none "
            "(run with --backend swarm)"
        )
    if self_healing_of(backend) == mode:
        return
    from chaos.backends.base import FaultError

    try:
        setter(mode)
    except FaultError as exc:
        raise ModeError(str(exc)) from exc
    _wait_answers(backend)


@contextlib.contextmanager
def self_healing_as(backend: Backend, mode: str | None) -> Iterator[None]:
    """The stack with self-healing `mode` (None: as it is) while the block runs, as before after."""
    if mode is None:
        yield
        return
    before = self_healing_of(backend)
    switch_self_healing(backend, mode)
    try:
        yield
    finally:
        if before in ("on", "off") and before != mode:
            switch_self_healing(backend, before)


def _recreate_project(backend: Any, mode: str) -> None:
    """`docker/stack.sh up` for the backend's compose project, with its own variables."""
    found = {name: container.attrs for name, container in backend.containers().items()}
    env = os.environ | compose_variables(found)
    env |= {"COMPOSE_PROJECT_NAME": backend.project, RESILIENCE: mode}
    # Compose's output goes to stderr: stdout is kept for `compare --json`.
    done = subprocess.run(
        [str(REPO / "docker" / "stack.sh"), "up"], env=env, stdout=sys.stderr, check=False
    )
    if done.returncode != 0:
        raise ModeError(
            f"docker/stack.sh up for {backend.project} with {RESILIENCE}={mode} failed "
            f"(exit {done.returncode})"
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
    from chaos.backends.docker.driver import environment_of

    env = environment_of(gateway)
    variables |= {name: env[name] for name in CARRIED if name in env}
    password = urlsplit(env.get("FAILWHALE_REDIS_URL", "")).password
    if password:
        variables["FAILWHALE_REDIS_PASSWORD"] = password
    return variables
