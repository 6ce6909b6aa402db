"""The chaos agent (the process behind the Chaos tab of Locust's web UI) on swarm: what differs
from compose, where the same service drives the compose project.

On swarm it drives the stack: FAILWHALE_CHAOS_BACKEND=swarm, the stack's name as its scope. It
must run on a manager (only a manager answers the swarm API it calls through the Docker socket).
Its bind mounts stay bind mounts: the Docker socket, and the reports folder as an absolute path
on the node `make up` runs on. A stack file has no `group_add`: the socket's group becomes the
user's primary group, so it still writes its reports as the user who started the stack.
"""

import os
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

from stack.swarm.interpolate import substitute

AGENT = "chaos-agent"
BACKEND_KEY = "FAILWHALE_CHAOS_BACKEND"
SCOPE_KEY = "FAILWHALE_CHAOS_SCOPE"
# Services that call the swarm API: placed on a manager.
MANAGER_ONLY = frozenset({AGENT})
SOCKET_VARIABLE = "FAILWHALE_DOCKER_SOCKET"
DEFAULT_SOCKET = "/var/run/docker.sock"


def adapt_environment(name: str, environment: MutableMapping[str, str], stack: str) -> None:
    """The agent's settings that name the engine it drives: the swarm backend and this stack."""
    if name == AGENT:
        environment[BACKEND_KEY] = "swarm"
        environment[SCOPE_KEY] = stack


def swarm_user(spec: Mapping[str, Any], values: Mapping[str, str]) -> str:
    """The service's `user`, with its first `group_add` group as the primary group (a stack file
    cannot add groups)."""
    user = substitute(str(spec["user"]), values)
    groups = [substitute(str(group), values) for group in spec.get("group_add") or []]
    if not groups:
        return user
    return f"{user.partition(':')[0]}:{groups[0]}"


def bind_source(source: str, project_dir: str) -> str:
    """A bind mount's source as an absolute path (a relative one is the project's folder's)."""
    path = Path(source).expanduser()
    return str(path if path.is_absolute() else (Path(project_dir) / path).resolve())


def host_values(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """What docker/stack.sh exports for compose, for the stack file: the invoking user and group,
    and the group of the Docker socket (0 when it cannot be read)."""
    environ = os.environ if environ is None else environ
    socket = environ.get(SOCKET_VARIABLE) or DEFAULT_SOCKET
    try:
        socket_gid = os.stat(socket).st_gid
    except OSError:
        socket_gid = 0
    return {
        "FAILWHALE_UID": str(os.getuid()),
        "FAILWHALE_GID": str(os.getgid()),
        "FAILWHALE_DOCKER_GID": str(socket_gid),
    }
