"""The stack file checked against docker-compose.yml, so the two cannot drift: the same services
(timeline-1 and timeline-2 as one `timeline`, the Locust master as `locust`), the same
environment keys (a secret `KEY` as `KEY_FILE`; the gateway's replica discovery added), the same
healthcheck tests (a shell test may first read its secrets from files), the same published
ports (through the edge relay), the same commands, the same mount targets (the seed folder may
become a config), a user where compose names one and the same `init`."""

import re
from collections.abc import Mapping
from typing import Any

from stack.swarm.stackfile import DISCOVERY_KEY, RENAMES, rename_hosts

ADDED_KEYS = frozenset({DISCOVERY_KEY})
SEED_FOLDER = "/seed"


def _env_keys(spec: Mapping[str, Any]) -> set[str]:
    raw = spec.get("environment") or {}
    return {item.partition("=")[0] for item in raw} if isinstance(raw, list) else set(raw)


def _mount_targets(spec: Mapping[str, Any]) -> set[str]:
    targets = set()
    for entry in spec.get("volumes") or []:
        # a compose source may be a `${VAR:-default}`, whose colon is no separator
        short = re.sub(r"\$\{[^}]*\}", "source", str(entry))
        target = entry.get("target") if isinstance(entry, dict) else short.split(":")[1]
        targets.add(str(target))
    return targets - {SEED_FOLDER}


def _unescape(text: str) -> str:
    return text.replace("$$", "$")


def problems(compose: Mapping[str, Any], stack: Mapping[str, Any]) -> list[str]:
    """Every difference, one line each; [] when the stack file matches compose."""
    found: list[str] = []
    swarm_services: Mapping[str, Any] = stack.get("services", {})
    expected = {RENAMES.get(name, name): spec for name, spec in compose["services"].items()}
    for name in sorted(set(expected) ^ set(swarm_services)):
        where = "compose" if name in expected else "the stack file"
        found.append(f"service {name} is only in {where}")
    for name in sorted(set(expected) & set(swarm_services)):
        found += _service_problems(name, expected[name], swarm_services[name])
    published = {
        (rename_hosts(name), str(port).rsplit(":", 1)[-1], str(port).rsplit(":", 2)[-2])
        for name, spec in expected.items()
        for port in spec.get("ports") or []
    }
    edge = {
        (entry["service"], str(entry["target"]), str(entry["published"]))
        for entry in stack.get("x-failwhale-edge", [])
    }
    # compose's published port is a ${...} default; the edge's is the value it resolved to.
    if {(s, t) for s, t, _ in published} != {(s, t) for s, t, _ in edge}:
        found.append(f"published ports differ: compose {sorted(published)}, edge {sorted(edge)}")
    return found


def _service_problems(name: str, compose: Mapping[str, Any], swarm: Mapping[str, Any]) -> list[str]:
    found = []
    compose_keys = _env_keys(compose)
    swarm_keys = _env_keys(swarm)
    mapped = {key if key in swarm_keys else f"{key}_FILE" for key in compose_keys}
    if mapped | (swarm_keys & ADDED_KEYS) != swarm_keys:
        found.append(
            f"{name}: environment keys differ: missing {sorted(mapped - swarm_keys)}, "
            f"extra {sorted(swarm_keys - mapped - ADDED_KEYS)}"
        )
    want = [rename_hosts(str(word)) for word in (compose.get("healthcheck") or {}).get("test", [])]
    have = [_unescape(str(word)) for word in (swarm.get("healthcheck") or {}).get("test", [])]
    same_shell = (
        len(want) == len(have) == 2
        and want[0] == have[0] == "CMD-SHELL"
        and have[1].endswith(want[1])
    )
    if want != have and not same_shell:
        found.append(f"{name}: healthcheck test differs: compose {want}, stack file {have}")
    for key in ("interval", "timeout", "retries", "start_period"):
        if (compose.get("healthcheck") or {}).get(key) != (swarm.get("healthcheck") or {}).get(key):
            found.append(f"{name}: healthcheck {key} differs")
    command = [rename_hosts(str(word)) for word in compose.get("command") or []]
    swarm_command = [_unescape(str(word)) for word in swarm.get("command") or []]
    wrapped = swarm_command[:2] == ["sh", "-c"] and len(swarm_command) == 3
    if wrapped:
        if not swarm_command[2].startswith(f"exec {command[0]} "):
            found.append(f"{name}: command differs: compose {command}, stack file {swarm_command}")
    elif command != swarm_command:
        found.append(f"{name}: command differs: compose {command}, stack file {swarm_command}")
    if _mount_targets(compose) != _mount_targets(swarm):
        found.append(
            f"{name}: mounts differ: compose {sorted(_mount_targets(compose))}, "
            f"stack file {sorted(_mount_targets(swarm))}"
        )
    if ("user" in compose) != ("user" in swarm):
        found.append(f"{name}: user differs: compose {compose.get('user')}, stack file none")
    if compose.get("init") != swarm.get("init"):
        found.append(f"{name}: init differs")
    return found
