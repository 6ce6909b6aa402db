"""The edge relay's container: a plain `docker run` of the app image on the stack's attachable
overlay network, publishing the stack's ports on one host address (stack/swarm/edge.py relays
them to the services); its URLs as the user sees them."""

import os
import time
import urllib.request

from stack.swarm.cluster import LABEL, Say, SwarmError, docker
from stack.swarm.stackfile import EdgePort

EDGE_PORT_BASE = 18000  # the edge listens inside its container on 18000 + the service's port


def edge_name(stack: str) -> str:
    return f"{stack}_edge"


def start_edge(stack: str, image: str, ports: list[EdgePort], say: Say) -> None:
    """The edge relay: a plain container on the stack's attachable network, publishing each
    port on its host address (restarted by docker with the daemon)."""
    docker("rm", "--force", edge_name(stack), check=False)
    publish: list[str] = []
    routes: list[str] = []
    for port in ports:
        inside = EDGE_PORT_BASE + port.target
        publish += ["--publish", f"{port.address}:{port.published}:{inside}"]
        routes.append(f"{inside}={port.service}:{port.target}")
    arguments = [
        "run",
        "--detach",
        "--restart",
        "unless-stopped",
        "--name",
        edge_name(stack),
        "--label",
        f"{LABEL}={stack}",
        "--network",
        f"{stack}_chirp",
        *publish,
        image,
        "python",
        "-m",
        "stack.swarm.edge",
        *routes,
    ]
    try:
        docker(*arguments)
    except SwarmError as exc:
        # A port taken (by a compose stack of the same ports, say) leaves a created container.
        docker("rm", "--force", edge_name(stack), check=False)
        taken = ", ".join(f"{p.address}:{p.published}" for p in ports)
        raise SwarmError(
            f"the edge relay cannot publish {taken} ({exc}); is another stack on these ports? "
            "(make down, or FAILWHALE_GATEWAY_PORT / FAILWHALE_LOCUST_PORT)"
        ) from None
    say(
        f"edge relay {edge_name(stack)}: "
        + ", ".join(f"{p.address}:{p.published} -> {p.service}:{p.target}" for p in ports)
    )


def wait_answers(url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() >= deadline:
            raise SwarmError(f"{url} does not answer through the edge relay")
        time.sleep(1)


def public_url(port: EdgePort) -> str:
    host = port.address
    if host in ("0.0.0.0", "::"):
        host = os.uname().nodename
    return f"http://{host}:{port.published}"


def local_address(address: str) -> str:
    return "127.0.0.1" if address in ("0.0.0.0", "::") else address
