"""The runner and the stack switches ask the backend what its stack offers (its own Locust, a
resilience switch, an orchestrator's self-healing) instead of checking its name: an engine the
runner has never heard of gets the stack's Locust by saying where it is, and a backend without
an orchestrator refuses self-healing with the reason."""

from pathlib import Path
from typing import Any

import pytest

from chaos.backends.base import FaultError
from chaos.backends.docker.driver import DockerBackend
from chaos.backends.local.driver import LocalBackend
from chaos.journal import Journal
from chaos.load_master import MasterLoad
from chaos.runner import ChaosRun
from chaos.scenario import load_scenario
from chaos.stack_mode import ModeError, self_healing_as, switch_mode
from stack.layout import LocalLayout
from stack.local import LocalStack

CATALOGUE = Path(__file__).resolve().parents[2] / "chaos" / "scenarios"


class Engine:
    """A backend of an engine no code names: only what the runner and the switches call."""

    name = "some-engine"
    gateway_url = "http://127.0.0.1:9"  # nothing answers: the stack's mode is unknown

    def __init__(self, locust: str | None) -> None:
        self.locust = locust
        self.switched: list[str] = []

    def stack_locust_url(self) -> str | None:
        return self.locust

    def switch_resilience(self, mode: str) -> None:
        self.switched.append(mode)
        raise FaultError(f"the engine kept its services as they were, not {mode}")


def test_an_engine_that_says_where_its_locust_is_drives_the_load_through_it(
    tmp_path: Path,
) -> None:
    scenario = load_scenario(CATALOGUE / "trends-outage.yaml")
    run = ChaosRun(scenario, Engine("http://127.0.0.1:18089/"), "on", tmp_path)  # type: ignore[arg-type]
    driver = run.load_driver()
    assert isinstance(driver, MasterLoad) and driver.web_url == "http://127.0.0.1:18089"


def test_the_resilience_switch_is_the_backends_and_its_refusal_is_the_error() -> None:
    engine = Engine(None)
    with pytest.raises(ModeError, match="kept its services as they were, not off"):
        switch_mode(engine, "off")  # type: ignore[arg-type]
    assert engine.switched == ["off"]


def test_a_backend_without_an_orchestrator_refuses_self_healing(tmp_path: Path) -> None:
    local = LocalBackend(LocalStack(tmp_path, LocalLayout(base_port=1, redis_port=9)))
    assert local.self_healing() is None and local.stack_locust_url() is None
    with pytest.raises(ModeError, match="orchestrator"), self_healing_as(local, "off"):
        pytest.fail("the block ran without the self-healing it requires")
    with self_healing_as(local, None):  # a scenario that requires nothing runs as the stack is
        pass


class Master:
    def __init__(self, status: str, ports: dict[str, Any]) -> None:
        self.labels = {
            "com.docker.compose.project": "ours",
            "com.docker.compose.service": "locust-master",
        }
        self.status, self.ports, self.id, self.name = status, ports, "m", "ours-locust-master"


class Daemon:
    def __init__(self, containers: list[Master]) -> None:
        self.containers, self.all = self, containers

    def ping(self) -> bool:
        return True

    def list(self, **query: Any) -> list[Master]:
        return self.all


@pytest.mark.parametrize(
    ("status", "ports", "url"),
    [
        (
            "running",
            {"8089/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18089"}]},
            "http://127.0.0.1:18089",
        ),
        ("running", {}, None),
        ("exited", {"8089/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18089"}]}, None),
    ],
    ids=["published", "unpublished", "not-running"],
)
def test_a_compose_project_offers_its_locust_master_when_it_runs_and_publishes_it(
    tmp_path: Path, status: str, ports: dict[str, Any], url: str | None
) -> None:
    daemon = Daemon([Master(status, ports)])
    docker = DockerBackend("ours", Journal(tmp_path / "j.json", {}), client=daemon)
    assert docker.stack_locust_url() == url
    assert docker.self_healing() is None
    with pytest.raises(FaultError, match="orchestrator"):
        docker.set_self_healing("on")
