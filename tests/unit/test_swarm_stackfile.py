"""The swarm stack file generated from docker-compose.yml: it matches compose (services, env
keys, healthchecks, ports, commands) and a drifted copy fails the check; secrets never appear
in it; the settings (self-healing, replicas, endpoint mode, seed config) land where they should."""

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from stack.swarm.drift import problems
from stack.swarm.interpolate import MissingVariable, escape, substitute, variables
from stack.swarm.stackfile import SwarmOptions, render

ROOT = Path(__file__).resolve().parents[2]
VALUES = {
    "FAILWHALE_REDIS_PASSWORD": "redis-password-" + "r" * 32,
    "FAILWHALE_TOKEN_SECRET": "token-secret-" + "t" * 32,
    "FAILWHALE_INTERNAL_SECRET": "internal-secret-" + "i" * 32,
    "FAILWHALE_CONSOLE_TOKEN": "console-token-" + "c" * 32,
    "FAILWHALE_GATEWAY_PORT": "18080",
    "FAILWHALE_UID": "1000",
    "FAILWHALE_GID": "1000",
    "FAILWHALE_DOCKER_GID": "998",
    "COMPOSE_PROJECT_NAME": "not-the-stack",
}


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def options(**overrides: Any) -> SwarmOptions:
    settings: dict[str, Any] = {
        "stack": "fwunit",
        "app_image": "failwhale/app:0123456789ab",
        "compose_app_image": "failwhale/app:latest",
        "endpoint_mode": "dnsrr",
        "replicas": {"timeline": 2},
        "project_dir": "/home/user/failwhale",
    }
    settings.update(overrides)
    return SwarmOptions(**settings)


def stack(**overrides: Any) -> dict[str, Any]:
    return render(compose(), options(**overrides), VALUES).stack


def test_the_generated_stack_matches_docker_compose() -> None:
    assert problems(compose(), stack()) == []


@pytest.mark.parametrize(
    ("drift", "expected"),
    [
        (lambda s: s["services"].pop("trends"), "service trends is only in compose"),
        (
            lambda s: s["services"]["posts"]["environment"].pop("FAILWHALE_DMS_URL"),
            "posts: environment keys differ",
        ),
        (
            lambda s: s["services"]["users"]["healthcheck"]["test"].__setitem__(
                -1, "http://127.0.0.1:8000/healthz"
            ),
            "users: healthcheck test differs",
        ),
        (
            lambda s: s["services"]["redis"]["healthcheck"].__setitem__("retries", 50),
            "redis: healthcheck retries differs",
        ),
        (lambda s: s["x-failwhale-edge"].pop(), "published ports differ"),
        (
            lambda s: s["services"]["dms"]["command"].__setitem__(
                1, "services.posts.app:create_app"
            ),
            "dms: command differs",
        ),
        (
            lambda s: s["services"].__setitem__("extra", {}),
            "service extra is only in the stack file",
        ),
        (
            lambda s: s["services"]["chaos-agent"]["volumes"].pop(0),
            "chaos-agent: mounts differ",
        ),
        (lambda s: s["services"]["chaos-agent"].pop("user"), "chaos-agent: user differs"),
        (lambda s: s["services"]["chaos-agent"].pop("init"), "chaos-agent: init differs"),
        (
            lambda s: s["services"]["locust"]["environment"].pop("FAILWHALE_CONSOLE_TOKEN_FILE"),
            "locust: environment keys differ",
        ),
    ],
)
def test_a_drifted_stack_file_fails_the_check(drift: Any, expected: str) -> None:
    drifted = copy.deepcopy(stack())
    drift(drifted)
    found = problems(compose(), drifted)
    assert any(line.startswith(expected) for line in found), found


def test_no_secret_value_is_written_into_the_stack_file() -> None:
    rendered = render(compose(), options(), VALUES)
    text = yaml.safe_dump(rendered.stack)
    for key in (
        "FAILWHALE_REDIS_PASSWORD",
        "FAILWHALE_TOKEN_SECRET",
        "FAILWHALE_INTERNAL_SECRET",
        "FAILWHALE_CONSOLE_TOKEN",
    ):
        assert VALUES[key] not in text
    # ...they are swarm secrets, named by their value's digest, read from /run/secrets
    assert VALUES["FAILWHALE_TOKEN_SECRET"] in rendered.secrets.values()
    assert any(VALUES["FAILWHALE_REDIS_PASSWORD"] in value for value in rendered.secrets.values())
    gateway = rendered.stack["services"]["gateway"]
    assert gateway["environment"]["FAILWHALE_TOKEN_SECRET_FILE"] == (
        "/run/secrets/FAILWHALE_TOKEN_SECRET"
    )
    assert "FAILWHALE_TOKEN_SECRET" in gateway["secrets"]
    declared = rendered.stack["secrets"]["FAILWHALE_TOKEN_SECRET"]
    assert declared["external"] is True and declared["name"] in rendered.secrets


def test_a_new_secret_value_gets_a_new_swarm_name() -> None:
    first = render(compose(), options(), VALUES).stack["secrets"]
    second = render(compose(), options(), {**VALUES, "FAILWHALE_TOKEN_SECRET": "x" * 40}).stack[
        "secrets"
    ]
    assert first["FAILWHALE_TOKEN_SECRET"] != second["FAILWHALE_TOKEN_SECRET"]
    assert first["FAILWHALE_INTERNAL_SECRET"] == second["FAILWHALE_INTERNAL_SECRET"]


def test_redis_reads_its_password_from_the_secret_file_in_its_command_and_healthcheck() -> None:
    redis = stack()["services"]["redis"]
    assert redis["command"][:2] == ["sh", "-c"]
    assert '--requirepass "$$(cat /run/secrets/FAILWHALE_REDIS_PASSWORD)"' in redis["command"][2]
    assert redis["healthcheck"]["test"][1].startswith(
        'export REDISCLI_AUTH="$$(cat /run/secrets/REDISCLI_AUTH)"; '
    )
    assert "REDISCLI_AUTH" not in redis["environment"]
    assert redis["deploy"]["placement"]["constraints"] == ["node.role == manager"]
    assert redis["volumes"] == ["redis-data-swarm:/data"]


def test_timeline_is_one_service_with_replicas_found_through_tasks_dns() -> None:
    services = stack(replicas={"timeline": 3, "gateway": 2})["services"]
    assert "timeline-1" not in services and "timeline-2" not in services
    timeline = services["timeline"]
    assert timeline["deploy"]["replicas"] == 3
    assert timeline["environment"]["FAILWHALE_SERVICE_NAME"] == "timeline-{{.Task.Slot}}"
    gateway = services["gateway"]
    assert gateway["deploy"]["replicas"] == 2
    assert gateway["environment"]["FAILWHALE_TIMELINE_DISCOVERY"] == "tasks.timeline:8000"
    assert gateway["environment"]["FAILWHALE_TIMELINE_URLS"] == "http://timeline:8000"
    assert services["locust-worker"]["command"][-1] == "locust"


def test_compose_only_keys_are_dropped_and_every_service_is_on_the_chirp_overlay() -> None:
    generated = stack()
    for name, service in generated["services"].items():
        for key in ("build", "restart", "depends_on", "container_name", "ports"):
            assert key not in service, (name, key)
        assert service["networks"] == ["chirp"]
        assert service["deploy"]["endpoint_mode"] == "dnsrr"
    assert generated["networks"]["chirp"] == {"driver": "overlay", "attachable": True}
    assert generated["services"]["gateway"]["image"] == "failwhale/app:0123456789ab"


def test_self_healing_off_leaves_chirp_services_dead_but_restarts_the_locust_worker() -> None:
    on, off = stack()["services"], stack(self_healing=False)["services"]
    assert on["timeline"]["deploy"]["restart_policy"]["condition"] == "any"
    assert off["timeline"]["deploy"]["restart_policy"]["condition"] == "none"
    assert off["redis"]["deploy"]["restart_policy"]["condition"] == "none"
    assert off["locust-worker"]["deploy"]["restart_policy"]["condition"] == "any"


def test_rolling_updates_start_the_new_task_first_except_for_redis() -> None:
    services = stack()["services"]
    assert services["timeline"]["deploy"]["update_config"]["order"] == "start-first"
    assert services["redis"]["deploy"]["update_config"]["order"] == "stop-first"


def test_the_seed_file_is_a_config_for_locust_not_a_bind_mount() -> None:
    services = stack(seed_config="fwunit_seed_abc")["services"]
    for name in ("locust", "locust-worker"):
        assert "volumes" not in services[name]
        assert services[name]["configs"][0]["target"] == "/seed/seed-users.json"
    assert "configs" not in stack()["services"]["locust"]


def test_the_edge_publishes_compose_ports_on_the_resolved_address() -> None:
    edge = stack()["x-failwhale-edge"]
    assert {
        "service": "gateway",
        "address": "127.0.0.1",
        "published": 18080,
        "target": 8000,
    } in edge
    assert {"service": "locust", "address": "127.0.0.1", "published": 8089, "target": 8089} in edge


def test_substitution_follows_compose_rules() -> None:
    values = {"SET": "v", "EMPTY": ""}
    assert substitute("${SET}-${EMPTY:-d}-${EMPTY-d}-${UNSET:-d}-$$-$SET", values) == "v-d--d-$-v"
    with pytest.raises(MissingVariable, match="UNSET: run make up"):
        substitute("${UNSET:?run make up}", values)
    assert variables("${A:-x} $B $$C") == {"A", "B"}
    assert escape("$(cat f)") == "$$(cat f)"


def test_the_chaos_agent_drives_the_swarm_from_a_manager_with_its_binds_and_no_port() -> None:
    rendered = render(compose(), options(), VALUES)
    agent = rendered.stack["services"]["chaos-agent"]
    environment = agent["environment"]
    assert environment["FAILWHALE_CHAOS_BACKEND"] == "swarm"
    # the stack's own name, not whatever COMPOSE_PROJECT_NAME says
    assert environment["FAILWHALE_CHAOS_SCOPE"] == "fwunit"
    assert environment["FAILWHALE_STACK_LOCUST_URL"] == "http://locust:8089"
    assert environment["FAILWHALE_STACK_GATEWAY_URL"] == "http://gateway:8000"
    assert environment["FAILWHALE_REPORTS_DIR"] == "/app/reports"
    assert agent["volumes"] == [
        "/var/run/docker.sock:/var/run/docker.sock",
        "/home/user/failwhale/reports:/app/reports",
        "chaos-journal-swarm:/app/.local/chaos",
    ]
    assert "chaos-journal-swarm" in rendered.stack["volumes"]
    assert agent["deploy"]["placement"]["constraints"] == ["node.role == manager"]
    # the socket's group as the primary group: a stack file has no group_add
    assert agent["user"] == "1000:998" and "group_add" not in agent
    assert agent["init"] is True
    # restarted whatever the self-healing setting: it is no chaos target
    off = render(compose(), options(self_healing=False), VALUES).stack["services"]["chaos-agent"]
    assert off["deploy"]["restart_policy"]["condition"] == "any"
    assert all(port.service != "chaos-agent" for port in rendered.edge)


def test_the_console_token_is_a_swarm_secret_of_the_agent_and_the_locust_master() -> None:
    rendered = render(compose(), options(), VALUES)
    services = rendered.stack["services"]
    for name in ("chaos-agent", "locust"):
        environment = services[name]["environment"]
        assert "FAILWHALE_CONSOLE_TOKEN" not in environment
        assert environment["FAILWHALE_CONSOLE_TOKEN_FILE"] == "/run/secrets/FAILWHALE_CONSOLE_TOKEN"
        assert "FAILWHALE_CONSOLE_TOKEN" in services[name]["secrets"]
    assert services["locust"]["environment"]["FAILWHALE_CONSOLE_AGENT_URL"] == (
        "http://chaos-agent:8000"
    )
    assert VALUES["FAILWHALE_CONSOLE_TOKEN"] in rendered.secrets.values()
    assert all("FAILWHALE_CONSOLE_TOKEN" not in services[name].get("secrets", []) for name in (
        "gateway", "timeline", "redis", "locust-worker"))  # fmt: skip
