"""The swarm itself: the docker command line, joining or creating a one-node swarm, the
record of a swarm this checkout created (so taking the stack down leaves only that one), and a
stack's secrets and configs."""

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ADVERTISE_VARIABLE = "FAILWHALE_SWARM_ADVERTISE_ADDR"
LABEL = "failwhale.stack"  # on the secrets, configs and edge container of a stack
Say = Callable[[str], None]


class SwarmError(RuntimeError):
    """A step of the swarm's life cycle failed; the message names the step and docker's words."""


def docker(*args: str, stdin: str | None = None, check: bool = True) -> str:
    """Runs `docker ARGS`; its output, or SwarmError with its error output."""
    done = subprocess.run(
        ["docker", *args], input=stdin, capture_output=True, text=True, check=False
    )
    if check and done.returncode != 0:
        # docker's hints ("See 'docker run --help'.") follow the message that matters
        words = [
            line
            for line in (done.stderr or done.stdout).strip().splitlines()
            if line.strip() and not line.startswith(("See '", "Run '"))
        ]
        raise SwarmError(f"docker {' '.join(args[:3])}: {words[-1] if words else 'failed'}")
    return done.stdout


@dataclass(frozen=True)
class SwarmRecord:
    """The swarm a stack's `up` created, kept in a state file beside the stack's other files."""

    path: Path

    def created(self) -> str | None:
        """The node id of the swarm we created, when there is a record of one."""
        try:
            node: str | None = json.loads(self.path.read_text()).get("created_node_id")
        except (OSError, ValueError):
            return None
        return node

    def remember(self, node_id: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps({"created_node_id": node_id}) + "\n")

    def forget(self) -> None:
        self.path.unlink(missing_ok=True)


def node_state() -> tuple[str, bool, str]:
    """(local node state, is it a manager, node id) from `docker info`."""
    out = docker(
        "info",
        "--format",
        "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}} {{.Swarm.NodeID}}",
    ).split()
    return out[0], out[1] == "true", out[2] if len(out) > 2 else ""


def ensure_swarm(record: SwarmRecord, say: Say) -> None:
    """A swarm this node manages: joined as it is, or created (one node) and recorded."""
    state, manager, node_id = node_state()
    if state == "active" and manager:
        if record.created() not in (None, node_id):
            record.forget()  # a record of an earlier swarm, gone since
        return
    if state == "active":
        raise SwarmError(
            "this node is a swarm worker: deploy from a manager (docker node ls there)"
        )
    if state not in ("inactive", ""):
        raise SwarmError(f"the swarm on this node is {state}: see docker info")
    address = os.environ.get(ADVERTISE_VARIABLE, "127.0.0.1")
    say(
        "no swarm on this node: creating a one-node swarm "
        f"(docker swarm init --advertise-addr {address})"
    )
    docker("swarm", "init", "--advertise-addr", address)
    record.remember(node_state()[2])


def leave_if_ours(record: SwarmRecord, say: Say) -> None:
    """Leaves the swarm when this checkout created it and no stack is left on it."""
    created = record.created()
    if created is None:
        return
    state, _, node_id = node_state()
    if state != "active" or node_id != created:
        record.forget()
        return
    stacks = docker("stack", "ls", "--format", "{{.Name}}", check=False).split()
    services = docker("service", "ls", "-q", check=False).split()
    if stacks or services:
        say(f"the swarm we created still runs {', '.join(stacks) or 'services'}: keeping it")
        return
    say("leaving the one-node swarm that up created (docker swarm leave --force)")
    docker("swarm", "leave", "--force")
    record.forget()


def say(line: str) -> None:
    """Progress, one line each, on standard error (standard output keeps the URLs)."""
    print(f"[swarm] {line}", file=sys.stderr, flush=True)


def sync_objects(kind: str, stack: str, wanted: dict[str, bytes]) -> None:
    """Creates the secrets (or configs) that do not exist yet, labelled with the stack."""
    existing = set(docker(kind, "ls", "--format", "{{.Name}}").split())
    for name, content in wanted.items():
        if name not in existing:
            docker(kind, "create", "--label", f"{LABEL}={stack}", name, "-", stdin=content.decode())


def remove_unused(kind: str, stack: str, keep: set[str]) -> None:
    """Removes the stack's older secrets or configs; one still in use stays (docker refuses)."""
    names = docker(kind, "ls", "--filter", f"label={LABEL}={stack}", "--format", "{{.Name}}")
    for name in set(names.split()) - keep:
        docker(kind, "rm", name, check=False)
