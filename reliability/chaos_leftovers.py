"""What a chaos run on the docker backend can leave behind in its compose project: containers
not running (paused, stopped, killed), helper containers, iptables rules carrying the chaos
marker and netem/tbf root qdiscs in each container's network namespace."""

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from docker.models.containers import Container

from chaos.backends.docker.driver import DockerBackend
from chaos.backends.docker.helpers import MARKER_PREFIX

SHAPING_QDISCS = ("netem", "tbf")


def leftovers(backend: DockerBackend, namespaces: bool = True) -> dict[str, list[str]]:
    """Kind of leftover -> what was found (empty kinds left out). `namespaces=False` skips the
    scan of each network namespace (a helper container each, the slow part)."""
    containers = backend.containers()
    stopped = [f"{n} ({c.status})" for n, c in containers.items() if c.status != "running"]
    found: dict[str, list[str]] = {
        "not running": sorted(stopped),
        "helper containers": sorted(h.name for h in backend.helpers.leftovers()),
    }
    running = [(n, c) for n, c in sorted(containers.items()) if c.status == "running"]
    if not namespaces:
        running = []
    # One short-lived helper per namespace, about a second each: side by side.
    with ThreadPoolExecutor(max_workers=4) as pool:
        for name, rules in pool.map(lambda nc: (nc[0], _namespace(backend, nc[1])), running):
            if rules:
                found[f"namespace of {name}"] = rules
    return {kind: items for kind, items in found.items() if items}


def count(found: dict[str, list[str]]) -> int:
    return sum(len(items) for items in found.values())


def _namespace(backend: DockerBackend, container: Container) -> list[str]:
    shown: dict[str, Any] = backend.helpers.once(
        "reliability-scan", container, {"command": "show", "marker": MARKER_PREFIX}
    )
    rules = [f"{r['table']}: {r['rule']}" for r in shown.get("rules", [])]
    qdisc = str(shown.get("qdisc") or "")
    if any(kind in qdisc.split() for kind in SHAPING_QDISCS):
        rules.append(f"root qdisc: {qdisc}")
    return rules
