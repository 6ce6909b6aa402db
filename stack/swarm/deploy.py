"""`up` and `down` of the stack on swarm: the swarm (joined or created), the images tagged
uniquely, the secrets and configs (new values under new names, old ones removed), the deploy,
the wait until every replica is running and healthy, and the edge relay; `down` in reverse."""

import os
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from stack.env_secrets import ensure
from stack.swarm import chaos_agent, endpoint
from stack.swarm.cluster import (
    Say,
    SwarmError,
    SwarmRecord,
    docker,
    ensure_swarm,
    leave_if_ours,
    node_state,
    remove_unused,
    sync_objects,
)
from stack.swarm.cluster import say as default_say
from stack.swarm.interpolate import substitute
from stack.swarm.publish import edge_name, local_address, start_edge, wait_answers
from stack.swarm.readiness import wait_ready
from stack.swarm.stackfile import Rendered, SwarmOptions, config_name, render

ROOT = Path(__file__).resolve().parents[2]
REPLICA_KNOBS = {
    "timeline": ("FAILWHALE_TIMELINE_REPLICAS", 2),
    "gateway": ("FAILWHALE_GATEWAY_REPLICAS", 1),
    "posts": ("FAILWHALE_POSTS_REPLICAS", 1),
    "dms": ("FAILWHALE_DMS_REPLICAS", 1),
    "locust-worker": ("FAILWHALE_LOCUST_WORKERS", 1),
}


@dataclass(frozen=True)
class Paths:
    """Where a stack's generated files live (git-ignored)."""

    root: Path
    stack: str

    @property
    def stack_file(self) -> Path:
        return self.root / "build" / "swarm" / f"{self.stack}.yml"

    @property
    def record(self) -> SwarmRecord:
        return SwarmRecord(self.root / ".local" / "swarm" / f"{self.stack}.json")

    @property
    def seed_file(self) -> Path:
        seed_dir = Path(os.environ.get("FAILWHALE_SEED_DIR") or self.root / ".local")
        return (seed_dir if seed_dir.is_absolute() else self.root / seed_dir) / "seed-users.json"


def stack_name() -> str:
    return os.environ.get("COMPOSE_PROJECT_NAME") or "failwhale"


def compose_values(root: Path = ROOT) -> dict[str, str]:
    """What compose substitutes: what docker/stack.sh exports (the invoking user, the Docker
    socket's group), `.env` (secrets generated where missing), then the environment over it."""
    values, _ = ensure(root / ".env")
    return {**chaos_agent.host_values(), **values, **os.environ}


def load_compose(root: Path = ROOT, offline: bool | None = None) -> dict[str, object]:
    """docker-compose.yml, with the offline override merged in as compose would (OFFLINE=1)."""
    compose: dict[str, object] = yaml.safe_load((root / "docker-compose.yml").read_text())
    if offline if offline is not None else os.environ.get("OFFLINE") == "1":
        override = yaml.safe_load((root / "docker-compose.offline.yml").read_text())
        _merge(compose, override)
    return compose


def _merge(base: dict[str, object], extra: dict[str, object]) -> None:
    for key, value in extra.items():
        current = base.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            _merge(current, value)
        else:
            base[key] = value


def replicas() -> dict[str, int]:
    counts = {}
    for service, (variable, default) in REPLICA_KNOBS.items():
        text = os.environ.get(variable) or str(default)
        if not text.isdigit():
            raise SwarmError(f"{variable} must be a whole number of replicas, not {text!r}")
        counts[service] = int(text)
    return counts


def self_healing() -> bool:
    setting = os.environ.get("FAILWHALE_SELF_HEALING", "on") or "on"
    if setting not in ("on", "off"):
        raise SwarmError(f"FAILWHALE_SELF_HEALING must be on or off, not {setting!r}")
    return setting == "on"


def unique_tag(reference: str, repository: str) -> str:
    """Tags the local image `repository:<short image id>`: swarm pins that, never pulls it."""
    image_id = docker("image", "inspect", "--format", "{{.Id}}", reference).strip()
    tag = f"{repository}:{image_id.removeprefix('sha256:')[:12]}"
    docker("tag", reference, tag)
    return tag


def options(
    stack: str,
    compose: dict[str, object],
    values: dict[str, str],
    say: Say,
    seed_config: str | None,
    tag: bool = True,
    root: Path = ROOT,
) -> SwarmOptions:
    """The generator's options from the settings; `tag`: tag the local images uniquely."""
    mode, why = endpoint.choose()
    say(f"endpoint mode {mode}: {why}")
    app = values.get("FAILWHALE_APP_IMAGE") or "failwhale/app:latest"
    services = compose["services"]
    assert isinstance(services, dict)
    redis = substitute(str(services["redis"]["image"]), values)
    return SwarmOptions(
        stack=stack,
        app_image=unique_tag(app, app.rpartition(":")[0] or app) if tag else app,
        compose_app_image=app,
        endpoint_mode=mode,
        self_healing=self_healing(),
        replicas=replicas(),
        image_overrides={redis: unique_tag(redis, "failwhale/swarm-redis")} if tag else {},
        seed_config=seed_config,
        project_dir=str(root),
    )


def preview(root: Path = ROOT) -> dict[str, object]:
    """The stack file `up` would deploy, without touching docker (images keep their tags)."""
    stack = stack_name()
    values = compose_values(root)
    compose = load_compose(root)
    seed = Paths(root, stack).seed_file
    seed_config = config_name(stack, "seed", seed.read_bytes()) if seed.exists() else None
    return render(
        compose, options(stack, compose, values, default_say, seed_config, False, root), values
    ).stack


def up(root: Path = ROOT, say: Say = default_say) -> Rendered:
    """Deploys the stack and returns once every replica is healthy and the edge answers."""
    start = time.monotonic()
    stack = stack_name()
    paths = Paths(root, stack)
    ensure_swarm(paths.record, say)
    values = compose_values(root)
    compose = load_compose(root)
    seed = paths.seed_file.read_bytes() if paths.seed_file.exists() else None
    seed_config = config_name(stack, "seed", seed) if seed is not None else None
    rendered = render(
        compose, options(stack, compose, values, say, seed_config, True, root), values
    )
    # The chaos agent's reports folder, made by the user (a bind mount's source must exist).
    (root / "reports").mkdir(exist_ok=True)
    secrets = {name: value.encode() for name, value in rendered.secrets.items()}
    sync_objects("secret", stack, secrets)
    configs = {seed_config: seed} if seed_config and seed is not None else {}
    sync_objects("config", stack, configs)
    write_stack_file(paths.stack_file, rendered)
    say(f"deploying stack {stack} ({paths.stack_file.relative_to(root)})")
    docker(
        "stack",
        "deploy",
        "--prune",
        "--resolve-image",
        "never",
        "--compose-file",
        str(paths.stack_file),
        stack,
    )
    timeout = float(os.environ.get("FAILWHALE_UP_TIMEOUT") or 300)
    waited = wait_ready(stack, set(rendered.stack["services"]), timeout, say)
    say(f"every service has its replicas running and healthy ({waited:.0f} s)")
    remove_unused("secret", stack, set(secrets))
    remove_unused("config", stack, set(configs))
    app_image = rendered.stack["services"]["gateway"]["image"]
    start_edge(stack, app_image, rendered.edge, say)
    gateway = next(p for p in rendered.edge if p.service == "gateway")
    wait_answers(f"http://{local_address(gateway.address)}:{gateway.published}/readyz", 60)
    say(f"up in {time.monotonic() - start:.0f} s")
    return rendered


def write_stack_file(path: Path, rendered: Rendered) -> None:
    class Dumper(yaml.SafeDumper):
        def ignore_aliases(self, data: object) -> bool:
            return True

    path.parent.mkdir(parents=True, exist_ok=True)
    header = (
        "# Generated from docker-compose.yml by stack/swarm (make up BACKEND=swarm); do not edit.\n"
    )
    path.write_text(header + yaml.dump(rendered.stack, Dumper=Dumper, sort_keys=False))


def down(root: Path = ROOT, say: Say = default_say, volumes: bool = False) -> None:
    """Removes the edge, the stack, its secrets and configs (and volume), waits for its
    network to go, and leaves the swarm when `up` created it and nothing else runs there."""
    stack = stack_name()
    paths = Paths(root, stack)
    state, manager, _ = node_state()
    if state == "active" and manager:
        docker("rm", "--force", edge_name(stack), check=False)
        say(f"removing stack {stack}")
        docker("stack", "rm", stack, check=False)
        wait_gone(stack, 120)
        for kind in ("secret", "config"):
            remove_unused(kind, stack, set())
        if volumes:
            for volume in docker(
                "volume", "ls", "-q", "--filter", f"label=com.docker.stack.namespace={stack}"
            ).split():
                docker("volume", "rm", volume, check=False)
    leave_if_ours(paths.record, say)


def wait_gone(stack: str, timeout_s: float) -> None:
    """Until the stack's tasks' containers and its network are gone (secrets in use and the
    network cannot be removed before)."""
    label = f"label=com.docker.stack.namespace={stack}"
    deadline = time.monotonic() + timeout_s
    while True:
        left = (
            docker("ps", "-aq", "--filter", label).split()
            + docker("network", "ls", "-q", "--filter", label).split()
        )
        if not left:
            return
        if time.monotonic() >= deadline:
            raise SwarmError(f"stack {stack} still has {len(left)} containers or networks")
        time.sleep(1)
