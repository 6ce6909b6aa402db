"""The swarm stack file, generated from docker-compose.yml (the one source of truth).

What changes on the way: compose-only keys go (build, restart, depends_on, container_name);
timeline-1 and timeline-2 become one service `timeline` with replicas, found by the gateway
through `tasks.timeline`; the Locust master is `locust`; every value that holds a secret becomes a
swarm secret read from /run/secrets (`<KEY>_FILE`, or the file read by a shell wrapper for a
command argument); the seed folder's bind mount becomes a swarm config, other bind mounts (the
chaos agent's Docker socket and reports folder) stay, with absolute sources; published ports go to
the `edge` relay (`x-failwhale-edge`), since swarm cannot publish on one host address; every
service gets a `deploy` section (replicas, endpoint mode, restart and update policy). The chaos
agent's own differences are in chaos_agent.py.
"""

import hashlib
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from stack.env_secrets import SECRET_KEYS
from stack.swarm import chaos_agent
from stack.swarm.interpolate import escape, substitute, variables

ROOT = Path(__file__).resolve().parents[2]

# compose name -> swarm name; hosts in URLs and commands follow.
RENAMES = {"timeline-1": "timeline", "timeline-2": "timeline", "locust-master": "locust"}
COMPOSE_ONLY = ("build", "restart", "depends_on", "container_name", "ports", "volumes", "group_add")
NETWORK = "chirp"
SECRETS_DIR = "/run/secrets"
SEED_TARGET = "/seed/seed-users.json"
DISCOVERY_KEY = "FAILWHALE_TIMELINE_DISCOVERY"
DISCOVERY = "tasks.timeline:8000"
# Each replica of the one timeline service keeps the compose name of its slot.
SLOT_NAMES = {"timeline": "timeline-{{.Task.Slot}}"}
# Swarm volume names would be `<stack>_<name>`, as compose's are `<project>_<name>`: the same
# name for the same project would share Redis' data between the two engines.
VOLUME_SUFFIX = "-swarm"
# One task at a time, the new one healthy before the old one stops: a rolling update keeps a
# healthy task. A service holding a volume (Redis) or a single master stops first instead.
STOP_FIRST = frozenset({"redis", "locust"})
SERVICE_NAME_KEY = "FAILWHALE_SERVICE_NAME"


@dataclass(frozen=True)
class SwarmOptions:
    """What the generated file depends on besides docker-compose.yml."""

    stack: str
    app_image: str  # the uniquely tagged app image the services run
    compose_app_image: str  # the reference compose uses for it (replaced by app_image)
    endpoint_mode: Literal["vip", "dnsrr"]
    self_healing: bool = True
    replicas: Mapping[str, int] = field(default_factory=dict)
    image_overrides: Mapping[str, str] = field(default_factory=dict)  # compose ref -> swarm ref
    seed_config: str | None = None  # the swarm config holding the seed file, when there is one
    project_dir: str = str(ROOT)  # relative bind mount sources are this folder's


@dataclass(frozen=True)
class EdgePort:
    """A port that compose publishes, published on swarm by the edge relay."""

    service: str
    address: str
    published: int
    target: int


@dataclass
class Rendered:
    """The stack file, the secrets it names (swarm name -> value) and the edge's ports."""

    stack: dict[str, Any]
    secrets: dict[str, str]
    edge: list[EdgePort]


def secret_name(stack: str, target: str, value: str) -> str:
    """A swarm secret's name: a new value is a new name (swarm secrets cannot change)."""
    digest = hashlib.sha256(value.encode()).hexdigest()[:10]
    return f"{stack}_{target.lower()}_{digest}"


def config_name(stack: str, kind: str, content: bytes) -> str:
    return f"{stack}_{kind}_{hashlib.sha256(content).hexdigest()[:10]}"


def rename_hosts(text: str) -> str:
    """Compose host names replaced by swarm service names; a list that became repetitive
    (`http://timeline:8000,http://timeline:8000`) keeps one of each."""
    for old, new in RENAMES.items():
        text = text.replace(f"//{old}:", f"//{new}:")
        if text == old:
            text = new
    if "," in text:
        text = ",".join(dict.fromkeys(text.split(",")))
    return text


def _environment(spec: Mapping[str, Any]) -> dict[str, str]:
    raw = spec.get("environment") or {}
    if isinstance(raw, list):
        return dict(item.partition("=")[::2] for item in raw)
    return {str(key): "" if value is None else str(value) for key, value in raw.items()}


def _holds_secret(text: str) -> bool:
    return bool(variables(text) & set(SECRET_KEYS))


class _Builder:
    def __init__(self, options: SwarmOptions, values: Mapping[str, str]) -> None:
        self.options = options
        self.values = values
        self.secrets: dict[str, str] = {}  # target -> swarm name
        self.secret_values: dict[str, str] = {}
        self.edge: list[EdgePort] = []
        self.volumes: set[str] = set()
        self.used: list[str] = []  # the secrets of the service being built

    def secret(self, target: str, template: str) -> str:
        value = substitute(template, self.values)
        name = secret_name(self.options.stack, target, value)
        self.secrets[target] = name
        self.secret_values[name] = value
        self.used.append(target)
        return f"{SECRETS_DIR}/{target}"

    def value(self, text: str) -> str:
        return escape(rename_hosts(substitute(text, self.values)))

    def service(self, compose_name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        name = RENAMES.get(compose_name, compose_name)
        self.used = []
        out = {key: value for key, value in spec.items() if key not in COMPOSE_ONLY}
        out["image"] = self.image(str(spec["image"]))
        secret_targets: list[str] = []
        environment: dict[str, str] = {}
        for key, template in _environment(spec).items():
            if _holds_secret(template):
                environment[f"{key}_FILE"] = self.secret(key, template)
                secret_targets.append(key)
            else:
                environment[key] = self.value(template)
        chaos_agent.adapt_environment(name, environment, self.options.stack)
        if name in SLOT_NAMES and SERVICE_NAME_KEY in environment:
            environment[SERVICE_NAME_KEY] = SLOT_NAMES[name]
        if "FAILWHALE_TIMELINE_URLS" in environment:
            environment[DISCOVERY_KEY] = DISCOVERY
        if environment:
            out["environment"] = environment
        if "command" in spec:
            out["command"] = self.command(list(spec["command"]))
        if "user" in spec:
            out["user"] = chaos_agent.swarm_user(spec, self.values)
        if "healthcheck" in spec:
            out["healthcheck"] = self.healthcheck(dict(spec["healthcheck"]), secret_targets)
        self.mounts(name, spec, out)
        self.ports(name, spec)
        out["networks"] = [NETWORK]
        if self.used:
            out["secrets"] = sorted(set(self.used))
        out["deploy"] = self.deploy(name, spec, out)
        return out

    def image(self, reference: str) -> str:
        resolved = substitute(reference, self.values)
        if resolved == self.options.compose_app_image:
            return self.options.app_image
        return self.options.image_overrides.get(resolved, resolved)

    def command(self, args: list[str]) -> list[str]:
        if not any(_holds_secret(str(arg)) for arg in args):
            return [self.value(str(arg)) for arg in args]
        # A secret on a command line: a shell reads it from its file when the task starts.
        words = []
        for arg in args:
            text = str(arg)
            if _holds_secret(text):
                target = sorted(variables(text) & set(SECRET_KEYS))[0]
                words.append(f'"$(cat {self.secret(target, text)})"')
            else:
                words.append(shlex.quote(rename_hosts(substitute(text, self.values))))
        return ["sh", "-c", escape("exec " + " ".join(words))]

    def healthcheck(self, check: dict[str, Any], secret_targets: list[str]) -> dict[str, Any]:
        test = [rename_hosts(str(word)) for word in check.get("test", [])]
        if test and test[0] == "CMD-SHELL" and secret_targets:
            exports = "".join(
                f'export {key}="$(cat {SECRETS_DIR}/{key})"; ' for key in secret_targets
            )
            test = ["CMD-SHELL", exports + test[1]]
        check["test"] = [escape(word) for word in test]
        return check

    def mounts(self, name: str, spec: Mapping[str, Any], out: dict[str, Any]) -> None:
        volumes, configs = [], []
        for entry in spec.get("volumes") or []:
            source, _, rest = substitute(str(entry), self.values).partition(":")
            target = rest.split(":")[0]
            if source and source[0] not in "./$~":
                self.volumes.add(source + VOLUME_SUFFIX)
                volumes.append(f"{source}{VOLUME_SUFFIX}:{rest}")
            elif target == "/seed":
                if self.options.seed_config:
                    configs.append({"source": "seed", "target": SEED_TARGET, "mode": 0o444})
            elif source:
                source = chaos_agent.bind_source(source, self.options.project_dir)
                volumes.append(f"{source}:{rest}")
        if volumes:
            out["volumes"] = volumes
        if configs:
            out["configs"] = configs

    def ports(self, name: str, spec: Mapping[str, Any]) -> None:
        for entry in spec.get("ports") or []:
            parts = substitute(str(entry), self.values).rsplit(":", 2)
            address = parts[0] if len(parts) == 3 else "0.0.0.0"
            self.edge.append(EdgePort(name, address, int(parts[-2]), int(parts[-1])))

    def deploy(self, name: str, spec: Mapping[str, Any], out: Mapping[str, Any]) -> dict[str, Any]:
        # Services compose leaves dead ("no": chaos decides) follow the self-healing setting; the
        # ones compose restarts (the Locust worker) are always restarted.
        follows_setting = str(spec.get("restart", "no")) == "no"
        healing = self.options.self_healing or not follows_setting
        deploy: dict[str, Any] = {
            "mode": "replicated",
            "replicas": self.options.replicas.get(name, 1),
            "endpoint_mode": self.options.endpoint_mode,
            "restart_policy": {"condition": "any" if healing else "none", "delay": "2s"},
            "update_config": {
                "parallelism": 1,
                "order": "stop-first" if name in STOP_FIRST else "start-first",
                # A Locust worker quits when its master is replaced in the same update and is
                # restarted: that is no failed update of the worker.
                "failure_action": "rollback" if follows_setting else "continue",
                "monitor": "10s",
            },
        }
        if "volumes" in out or name in chaos_agent.MANAGER_ONLY:
            # Its named volume lives on the node it first ran on, and its bind mounts' sources
            # are on the node `make up` runs on: the manager, with the edge.
            deploy["placement"] = {"constraints": ["node.role == manager"]}
        return deploy


def render(
    compose: Mapping[str, Any], options: SwarmOptions, values: Mapping[str, str]
) -> Rendered:
    """The stack file for `docker stack deploy`, from the parsed (and merged) compose file and
    the variables compose would substitute (environment over `.env`)."""
    builder = _Builder(options, values)
    services: dict[str, Any] = {}
    for compose_name, spec in compose["services"].items():
        name = RENAMES.get(compose_name, compose_name)
        if name not in services:
            services[name] = builder.service(compose_name, spec)
    stack: dict[str, Any] = {
        "version": "3.8",
        "services": services,
        "networks": {NETWORK: {"driver": "overlay", "attachable": True}},
    }
    if builder.volumes:
        stack["volumes"] = {name: {} for name in sorted(builder.volumes)}
    if builder.secrets:
        stack["secrets"] = {
            target: {"external": True, "name": name} for target, name in builder.secrets.items()
        }
    if options.seed_config:
        stack["configs"] = {"seed": {"external": True, "name": options.seed_config}}
    stack["x-failwhale-edge"] = [
        {"service": p.service, "address": p.address, "published": p.published, "target": p.target}
        for p in builder.edge
    ]
    return Rendered(stack=stack, secrets=builder.secret_values, edge=builder.edge)
