"""The compose variables that recreate a running project as it is (for `chaos compare` on the
docker backend), read back from its containers' `docker inspect` attributes."""

from typing import Any

from chaos.backends.docker.compose import compose_variables


def inspected(
    ports: dict[str, list[dict[str, str]]], env: tuple[str, ...] = (), files: str = ""
) -> dict[str, Any]:
    return {
        "Config": {
            "Image": "failwhale/app:checkout-2",
            "Env": list(env),
            "Labels": {"com.docker.compose.project.config_files": files},
        },
        "HostConfig": {"PortBindings": ports},
    }


def test_the_published_address_and_ports_are_those_of_the_running_containers() -> None:
    found = {
        "gateway": inspected({"8000/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18080"}]}),
        "locust-master": inspected({"8089/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18089"}]}),
    }
    variables = compose_variables(found)
    assert variables["FAILWHALE_GATEWAY_PORT"] == "18080"
    assert variables["FAILWHALE_LOCUST_PORT"] == "18089"
    assert variables["FAILWHALE_PUBLISH_ADDRESS"] == "127.0.0.1"
    assert variables["FAILWHALE_APP_IMAGE"] == "failwhale/app:checkout-2"


def test_an_offline_project_is_recreated_offline_with_its_own_secrets() -> None:
    env = (
        "FAILWHALE_TOKEN_SECRET=t",
        "FAILWHALE_INTERNAL_SECRET=i",
        "FAILWHALE_REDIS_URL=redis://:p%40ss@redis:6379/0",
        "FAILWHALE_RESILIENCE=on",
        "FAILWHALE_FAULT_HOOK=on",
        "PATH=/usr/bin",
    )
    files = "/src/docker-compose.yml,/src/docker-compose.offline.yml"
    variables = compose_variables({"gateway": inspected({}, env, files)})
    assert variables["OFFLINE"] == "1"
    assert variables["FAILWHALE_TOKEN_SECRET"] == "t"
    assert variables["FAILWHALE_INTERNAL_SECRET"] == "i"
    assert variables["FAILWHALE_REDIS_PASSWORD"] == "p%40ss"  # as written in the URL
    assert variables["FAILWHALE_FAULT_HOOK"] == "on"
    # The mode is the switch's to set, and nothing but the stack's own variables is carried.
    assert "FAILWHALE_RESILIENCE" not in variables and "PATH" not in variables
    assert "FAILWHALE_GATEWAY_PORT" not in variables  # nothing published: compose's default


def test_an_online_project_is_not_sent_through_the_registry_probe() -> None:
    variables = compose_variables({"gateway": inspected({}, (), "/src/docker-compose.yml")})
    assert variables["OFFLINE"] == "0"
