"""Fault specs mapped to actions, without touching anything: what each backend refuses before a
run, the rules a network fault installs, how fault-hook plans of overlapping faults merge, what
the sweep's cleanup removes, and that the docker backend sees its own project's containers only."""

from pathlib import Path
from typing import Any

import pytest
from docker.errors import NotFound

from chaos.backends import backend_for
from chaos.backends.base import FaultError
from chaos.backends.docker.driver import DockerBackend
from chaos.backends.docker.records import ContainerRunning
from chaos.backends.hook import HookError, HookPart, HookPlans
from chaos.backends.local.driver import LocalBackend
from chaos.journal import Journal
from chaos.network import agent
from chaos.network.plans import latency_plan, loss_plan, partition_plan
from chaos.scenario import HttpErrors, Kill, Latency, Loss, Partition, Pause, Stop
from stack.layout import LocalLayout
from stack.local import LocalStack


@pytest.fixture
def local(tmp_path: Path) -> LocalBackend:
    # Ports nothing listens on: check() must decide these without a running stack.
    stack = LocalStack(tmp_path, LocalLayout(base_port=1, redis_port=9))
    return LocalBackend(stack, Journal(tmp_path / "j.json", {}))


def test_local_refuses_loss_for_want_of_a_network_to_shape(local: LocalBackend) -> None:
    reason = local.check(Loss(fault="loss", target="posts", at_s=0, duration_s=5, percent=10))
    assert reason is not None and "docker" in reason


@pytest.mark.parametrize(
    "spec",
    [
        Latency(fault="latency", target="redis", at_s=0, duration_s=5, delay_ms=100),
        HttpErrors(fault="http-errors", target="redis", at_s=0, duration_s=5, rate=0.5),
        Partition(fault="partition", target="posts", peer="redis", at_s=0, duration_s=5),
        Partition(fault="partition", target="redis", peer="timeline-1", at_s=0, duration_s=5),
    ],
    ids=["latency-on-redis", "errors-on-redis", "partition-to-redis", "partition-from-redis"],
)
def test_local_refuses_hook_faults_that_involve_redis(local: LocalBackend, spec: Any) -> None:
    reason = local.check(spec)
    assert reason is not None and "redis" in reason
    assert local.apply(spec).verify()[0] is False


def test_local_takes_process_faults_on_redis(local: LocalBackend) -> None:
    assert local.check(Kill(fault="kill", target="redis", at_s=0, duration_s=5)) is None


def test_an_unknown_backend_is_a_setup_error() -> None:
    with pytest.raises(FaultError, match="no backend"):
        backend_for("kubernetes")


def test_latency_without_netem_redirects_the_service_port_through_the_relay() -> None:
    plan = latency_plan(8000, 200, 50, "failwhale-chaos:x", netem=False, relay_port=24000)
    assert plan["relay"] == {"port": 24000, "upstream_port": 8000, "delay_ms": 200, "jitter_ms": 50}
    redirect, reset = plan["rules"]
    assert redirect[:3] == ["nat", "-A", "PREROUTING"]
    assert redirect[-4:] == ["-j", "REDIRECT", "--to-ports", "24000"]
    assert "--dport" in redirect and redirect[redirect.index("--dport") + 1] == "8000"
    # Old connections are reset, except the relay's own (over lo) and the redirected ones.
    assert reset[:5] == ["filter", "-I", "INPUT", "!", "-i"] and reset[5] == "lo"
    assert reset[-4:] == ["-j", "REJECT", "--reject-with", "tcp-reset"]
    assert all("failwhale-chaos:x" in rule for rule in plan["rules"])


def test_latency_on_redis_delays_its_own_port() -> None:
    plan = latency_plan(DockerBackend.port("redis"), 100, 0, "m", netem=False, relay_port=25000)
    assert plan["relay"]["upstream_port"] == 6379


def test_latency_with_netem_is_a_root_qdisc_and_no_rules() -> None:
    plan = latency_plan(8000, 200, 20, "m", netem=True, relay_port=1)
    assert plan == {"qdisc": ["netem", "delay", "200ms", "20ms"], "rules": []}


def test_loss_drops_that_share_of_incoming_packets() -> None:
    [rule] = loss_plan(12.5, "m")["rules"]
    assert rule[rule.index("--probability") + 1] == "0.1250"
    assert rule[-2:] == ["-j", "DROP"] and "lo" in rule


def test_a_partition_drops_the_peer_both_ways() -> None:
    into, out = partition_plan("192.168.16.7", "m")["rules"]
    assert into[2:5] == ["INPUT", "-s", "192.168.16.7"] and into[-1] == "DROP"
    assert out[2:5] == ["OUTPUT", "-d", "192.168.16.7"] and out[-1] == "DROP"
    assert "ESTABLISHED,RELATED" in out


class FakeHook:
    def __init__(self, status: int = 200) -> None:
        self.calls: list[tuple[str, str, dict[str, Any] | None]] = []
        self.status = status

    def call(self, service: str, method: str, body: dict[str, Any] | None) -> tuple[int, Any]:
        self.calls.append((service, method, body))
        return (204 if method == "DELETE" else self.status), {}


def test_overlapping_hook_faults_on_one_service_are_merged() -> None:
    hook = FakeHook()
    plans = HookPlans(hook)
    plans.add("posts", "a", HookPart(error_rate=0.2, duration_s=30))
    plans.add("posts", "b", HookPart(latency_ms=300, blackhole_callers=("gateway",), duration_s=10))
    _, method, body = hook.calls[-1]
    assert method == "PUT" and body is not None
    assert (body["error_rate"], body["latency_ms"], body["blackhole_callers"]) == (
        0.2,
        300,
        ["gateway"],
    )
    assert 29 < body["duration_s"] <= 30  # the longest

    plans.remove("posts", "a")
    body = hook.calls[-1][2]
    assert body is not None and body["error_rate"] == 0 and body["latency_ms"] == 300
    plans.remove("posts", "b")
    assert hook.calls[-1][:2] == ("posts", "DELETE")


def test_a_hook_that_is_off_refuses_the_plan_and_keeps_nothing() -> None:
    plans = HookPlans(FakeHook(status=404))
    with pytest.raises(HookError, match="off"):
        plans.add("trends", "a", HookPart(error_rate=1, duration_s=5))
    assert plans._parts["trends"] == {}


def test_sweep_cleanup_deletes_only_rules_with_our_marker(monkeypatch: pytest.MonkeyPatch) -> None:
    listed = {
        "filter": "-P INPUT ACCEPT\n"
        "-A INPUT -s 10.0.0.9/32 -m comment --comment failwhale-chaos:partition-a -j DROP\n"
        "-A INPUT -p tcp -m tcp --dport 22 -m comment --comment keep-me -j ACCEPT\n",
        "nat": "-A PREROUTING -p tcp -m tcp --dport 8000 -m comment --comment "
        '"failwhale-chaos:latency-b" -j REDIRECT --to-ports 24000\n'
        "-A OUTPUT -d 127.0.0.11/32 -j DOCKER_OUTPUT\n",
    }
    ran: list[list[str]] = []

    def fake_run(argv: list[str]) -> tuple[int, str]:
        ran.append(argv)
        if argv[0] == "iptables" and argv[3] == "-S":
            return 0, listed.get(argv[2], "")
        if argv[:2] == ["tc", "qdisc"] and argv[2] == "show":
            return 0, "qdisc noqueue 0: root refcnt 2"
        return 0, ""

    monkeypatch.setattr(agent, "run", fake_run)
    report = agent.cleanup({"marker_prefix": "failwhale-chaos", "qdisc_kinds": ["netem", "tbf"]})
    deletes = [argv for argv in ran if "-D" in argv]
    assert len(deletes) == 2 and len(report["removed"]) == 2
    assert deletes[0][:5] == ["iptables", "-t", "filter", "-D", "INPUT"]
    assert deletes[1][:5] == ["iptables", "-t", "nat", "-D", "PREROUTING"]
    assert "failwhale-chaos:latency-b" in deletes[1]  # the quotes of -S are gone
    assert not any(argv[:3] == ["tc", "qdisc", "del"] for argv in ran)


class FakeContainer:
    def __init__(self, name: str, labels: dict[str, str], status: str = "running") -> None:
        self.id = self.name = name
        self.labels = labels
        self.status = status
        self.attrs = {"State": {"StartedAt": "t0", "Status": status, "ExitCode": 0}}
        self.journal: Journal | None = None
        self.actions: list[str] = []

    def _act(self, action: str, status: str) -> None:
        # The journal must say what is being done, and how to undo it, before it is done.
        assert self.journal is not None
        [entry] = self.journal.pending()
        assert entry.state == "applying"
        assert isinstance(entry.undo, ContainerRunning) and entry.undo.container == self.id
        self.actions.append(action)
        self.status = self.attrs["State"]["Status"] = status

    def kill(self) -> None:
        self._act("kill", "exited")

    def stop(self, timeout: int) -> None:
        self._act("stop", "exited")

    def pause(self) -> None:
        self._act("pause", "paused")

    def reload(self) -> None:
        pass


class FakeDocker:
    """Enough of docker.DockerClient for the backend's lookups: label filters as the daemon
    applies them."""

    def __init__(self, containers: list[FakeContainer]) -> None:
        self.all = containers
        self.containers = self
        self.images = self

    def ping(self) -> bool:
        return True

    def list(self, **query: Any) -> list[FakeContainer]:
        wanted = (query.get("filters") or {}).get("label", [])
        pairs = [w.split("=", 1) for w in ([wanted] if isinstance(wanted, str) else wanted)]
        return [c for c in self.all if all(c.labels.get(k) == v for k, v in pairs)]

    def get(self, name: str) -> FakeContainer:
        for container in self.all:
            if container.id == name:
                return container
        raise NotFound(name)


def compose(project: str, service: str) -> dict[str, str]:
    return {"com.docker.compose.project": project, "com.docker.compose.service": service}


@pytest.fixture
def docker_backend(tmp_path: Path) -> DockerBackend:
    fake = FakeDocker(
        [
            FakeContainer("ours-posts", compose("ours", "posts")),
            FakeContainer("ours-gateway", compose("ours", "gateway")),
            FakeContainer("theirs-redis", compose("theirs", "redis")),
            FakeContainer("bystander", {}),
        ]
    )
    return DockerBackend("ours", Journal(tmp_path / "j.json", {}), client=fake)  # type: ignore[arg-type]


def test_docker_sees_only_its_own_projects_containers(docker_backend: DockerBackend) -> None:
    assert sorted(docker_backend.containers()) == ["gateway", "posts"]
    assert docker_backend.owned("theirs-redis") is None
    assert docker_backend.owned("bystander") is None
    with pytest.raises(FaultError):
        docker_backend.container("redis")


def test_docker_refuses_a_fault_on_a_service_it_has_no_container_for(
    docker_backend: DockerBackend,
) -> None:
    reason = docker_backend.check(Kill(fault="kill", target="redis", at_s=0, duration_s=5))
    assert reason is not None and "no container for redis" in reason
    spec = Partition(fault="partition", target="posts", peer="dms", at_s=0, duration_s=5)
    assert "dms" in (docker_backend.check(spec) or "")


def test_docker_refuses_network_faults_without_the_helper_image(
    docker_backend: DockerBackend,
) -> None:
    spec = Latency(fault="latency", target="posts", at_s=0, duration_s=5, delay_ms=100)
    assert "helper image" in (docker_backend.check(spec) or "")


@pytest.mark.parametrize(
    ("spec", "action", "paused"),
    [
        (Kill(fault="kill", target="posts", at_s=0, duration_s=5), "kill", False),
        (Stop(fault="stop", target="posts", at_s=0, duration_s=5), "stop", False),
        (Pause(fault="pause", target="posts", at_s=0, duration_s=5), "pause", True),
    ],
    ids=["kill", "stop", "pause"],
)
def test_a_container_fault_is_journaled_before_docker_is_asked(
    docker_backend: DockerBackend,
    monkeypatch: pytest.MonkeyPatch,
    spec: Any,
    action: str,
    paused: bool,
) -> None:
    monkeypatch.setenv("FAILWHALE_CHAOS_DEADMAN", "off")
    posts = docker_backend.container("posts")
    posts.journal = docker_backend.journal
    fault = docker_backend.apply(spec)
    assert posts.actions == [action]
    assert fault.verify()[0]
    [entry] = docker_backend.journal.entries()
    assert (entry.state, entry.mechanism) == ("applied", "docker")
    assert entry.undo == ContainerRunning(container="ours-posts", paused=paused)
