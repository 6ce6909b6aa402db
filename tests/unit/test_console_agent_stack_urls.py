"""A backend built inside the stack (the chaos agent) reaches the gateway and the Locust master
by the stack's own service names (FAILWHALE_STACK_GATEWAY_URL, FAILWHALE_STACK_LOCUST_URL);
unset, as for the CLI on the host, the backends answer the host's published ports as before.
The agent sets those variables for docker and swarm, and a run's process gets them without the
console token."""

from pathlib import Path
from typing import Any

import pytest

from chaos.backends import STACK_GATEWAY_URL, STACK_LOCUST_URL, inside_url
from chaos.backends.docker.driver import DockerBackend
from chaos.backends.local.driver import LocalBackend
from chaos.backends.swarm.driver import SwarmBackend
from chaos.console.settings import AgentSettings, export_stack_urls, worker_env
from chaos.journal import Journal
from stack.layout import LocalLayout
from stack.local import LocalStack

PUBLISHED = {"8089/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18089"}],
             "8000/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18080"}]}  # fmt: skip


class Container:
    def __init__(self, service: str, status: str = "running") -> None:
        self.labels = {"com.docker.compose.project": "ours",
                       "com.docker.compose.service": service}  # fmt: skip
        self.status, self.ports, self.id, self.name = status, PUBLISHED, service, service
        self.attrs = {"NetworkSettings": {"Ports": PUBLISHED}}


class Daemon:
    def __init__(self, *containers: Container) -> None:
        self.containers, self.all = self, list(containers)

    def ping(self) -> bool:
        return True

    def list(self, **query: Any) -> list[Container]:
        return self.all

    def info(self) -> dict[str, Any]:
        return {"Swarm": {"LocalNodeState": "active", "ControlAvailable": True}}


@pytest.fixture(autouse=True)
def unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset for each test, and as before after it (the agent's export writes os.environ)."""
    for name in (STACK_GATEWAY_URL, STACK_LOCUST_URL):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)


def docker(tmp_path: Path, *containers: Container) -> DockerBackend:
    return DockerBackend("ours", Journal(tmp_path / "j.json", {}), client=Daemon(*containers))


def test_docker_on_the_host_answers_the_published_ports(tmp_path: Path) -> None:
    backend = docker(tmp_path, Container("gateway"), Container("locust-master"))
    assert backend.gateway_url == "http://127.0.0.1:18080"
    assert backend.stack_locust_url() == "http://127.0.0.1:18089"


def test_docker_inside_the_stack_answers_the_service_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(STACK_GATEWAY_URL, "http://gateway:8000/")
    monkeypatch.setenv(STACK_LOCUST_URL, "http://locust-master:8089")
    backend = docker(tmp_path, Container("gateway"), Container("locust-master"))
    assert backend.gateway_url == "http://gateway:8000"
    assert backend.stack_locust_url() == "http://locust-master:8089"
    stopped = docker(tmp_path, Container("gateway"), Container("locust-master", "exited"))
    assert stopped.stack_locust_url() is None  # a master that does not run drives no load


def test_swarm_inside_the_stack_answers_the_service_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(STACK_GATEWAY_URL, "http://gateway:8000")
    monkeypatch.setenv(STACK_LOCUST_URL, "http://locust:8089")
    swarm = SwarmBackend("ours", Journal(tmp_path / "j.json", {}), client=Daemon())
    monkeypatch.setattr(swarm.engine, "services", lambda: {"locust": object()})
    assert swarm.gateway_url == "http://gateway:8000"
    assert swarm.services() == {"gateway": "http://gateway:8000"}
    assert swarm.stack_locust_url() == "http://locust:8089"
    monkeypatch.setattr(swarm.engine, "services", lambda: {})
    assert swarm.stack_locust_url() is None


def test_a_local_stack_has_a_master_only_where_one_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = LocalBackend(LocalStack(tmp_path, LocalLayout(base_port=1, redis_port=9)))
    assert local.stack_locust_url() is None
    monkeypatch.setenv(STACK_LOCUST_URL, "http://127.0.0.1:18089")
    assert local.stack_locust_url() == "http://127.0.0.1:18089"
    assert inside_url(STACK_GATEWAY_URL) is None


@pytest.mark.parametrize(
    ("backend", "gateway", "locust"),
    [("docker", "http://gateway:8000", "http://locust-master:8089"),
     ("swarm", "http://gateway:8000", "http://locust:8089"),
     ("local", None, None)],
)  # fmt: skip
def test_the_agent_names_the_stacks_services_for_its_backend(
    backend: str, gateway: str | None, locust: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = AgentSettings(console_token="x" * 20, chaos_backend=backend)
    export_stack_urls(settings)
    assert inside_url(STACK_GATEWAY_URL) == gateway
    assert inside_url(STACK_LOCUST_URL) == locust
    given = AgentSettings(console_token="x" * 20, chaos_backend=backend,
                          stack_locust_url="http://elsewhere:8089")  # fmt: skip
    assert given.stack_urls()[STACK_LOCUST_URL] == "http://elsewhere:8089"


def test_a_runs_process_gets_the_settings_and_never_the_token(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = tmp_path / "console-token"
    secret.write_text("t" * 30)
    monkeypatch.setenv("FAILWHALE_CONSOLE_TOKEN", "t" * 30)
    monkeypatch.setenv("FAILWHALE_CONSOLE_TOKEN_FILE", str(secret))
    settings = AgentSettings(chaos_backend="docker", chaos_scope="fw", reports_dir=tmp_path)
    env = worker_env(settings)
    assert not any(name.startswith("FAILWHALE_CONSOLE_TOKEN") for name in env)
    assert "t" * 30 not in env.values()
    assert env["FAILWHALE_CHAOS_BACKEND"] == "docker" and env["FAILWHALE_CHAOS_SCOPE"] == "fw"
    assert env["FAILWHALE_REPORTS_DIR"] == str(tmp_path)
    assert env[STACK_GATEWAY_URL] == "http://gateway:8000"
