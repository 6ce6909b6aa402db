"""Faults of the docker backend on the compose stack, applied and reverted for real: each shows
it took effect while it lasts (containers dead, frozen or restarted; delay measured through the
gateway; partitions that time out from both sides), and leaves the service ready and no rule
behind once reverted."""

import secrets
import time
from typing import Any

import httpx
import pytest

from chaos.backends.docker.driver import DockerBackend
from chaos.backends.docker.helpers import MARKER_PREFIX
from chaos.scenario import Cpu, HttpErrors, Kill, Latency, Loss, Partition, Pause, Restart, Stop

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]
LONG = 120.0  # every fault is reverted by the test long before it would revert by itself


def status(backend: DockerBackend, service: str) -> str:
    container = backend.container(service)
    container.reload()
    state: str = container.status
    return state


def marked_rules(backend: DockerBackend, service: str) -> list[Any]:
    shown = backend.helpers.once(
        "test", backend.container(service), {"command": "show", "marker": MARKER_PREFIX}
    )
    rules: list[Any] = shown["rules"]
    return rules


def connect(backend: DockerBackend, source: str, target: str) -> str:
    """Open a TCP connection from `source`'s namespace to `target`'s service port."""
    spec = {
        "command": "connect",
        "host": backend.address(backend.container(target)),
        "port": backend.port(target),
        "timeout_s": 1.5,
    }
    outcome: str = backend.helpers.once("test", backend.container(source), spec)["outcome"]
    return outcome


@pytest.mark.parametrize("kind", ["kill", "stop"])
def test_kill_and_stop_leave_the_container_down_until_revert(
    docker_backend: DockerBackend, kind: str
) -> None:
    spec = (Kill if kind == "kill" else Stop)(fault=kind, target="trends", at_s=0, duration_s=LONG)  # type: ignore[arg-type]
    fault = docker_backend.apply(spec)
    ok, evidence = fault.verify()
    assert ok, evidence
    assert status(docker_backend, "trends") == "exited"
    fault.revert()
    assert status(docker_backend, "trends") == "running"
    assert "ready after" in fault.revert_evidence, fault.revert_evidence


def test_pause_freezes_the_container_until_revert(docker_backend: DockerBackend) -> None:
    fault = docker_backend.apply(Pause(fault="pause", target="timeline-2", at_s=0, duration_s=LONG))
    try:
        ok, evidence = fault.verify()
        assert ok, evidence
        assert status(docker_backend, "timeline-2") == "paused"
    finally:
        fault.revert()
    assert status(docker_backend, "timeline-2") == "running"
    assert docker_backend.wait_ready(docker_backend.container("timeline-2"))[0]


def test_restart_gives_a_new_start_and_a_ready_service(docker_backend: DockerBackend) -> None:
    fault = docker_backend.apply(Restart(fault="restart", target="dms", at_s=0, duration_s=LONG))
    ok, evidence = fault.verify()
    fault.revert()
    assert ok, evidence
    assert "ready after" in fault.revert_evidence, fault.revert_evidence


def gateway_read_ms(client: httpx.Client, headers: dict[str, str]) -> float:
    """A read the gateway passes to posts (a post that does not exist: 404 from posts)."""
    began = time.perf_counter()
    answer = client.get("/v1/posts/1", headers=headers)
    assert answer.status_code == 404, answer.text
    return (time.perf_counter() - began) * 1000


def test_latency_delays_posts_as_the_gateway_sees_it_even_on_pooled_connections(
    docker_backend: DockerBackend, gateway_url: str
) -> None:
    with httpx.Client(base_url=gateway_url, timeout=30) as client:
        handle = "lat" + secrets.token_hex(4)
        signed = client.post("/v1/users", json={"handle": handle, "password": "correct horse 1"})
        headers = {"Authorization": f"Bearer {signed.json()['token']}"}
        for _ in range(3):  # the gateway now holds pooled connections to posts
            gateway_read_ms(client, headers)
        spec = Latency(fault="latency", target="posts", at_s=0, duration_s=LONG, delay_ms=250)
        fault = docker_backend.apply(spec)
        try:
            ok, evidence = fault.verify()
            assert ok, evidence
            during = [gateway_read_ms(client, headers) for _ in range(4)]
        finally:
            fault.revert()
        after = min(gateway_read_ms(client, headers) for _ in range(3))
    assert fault.mechanism in ("netem", "delay-proxy")
    assert fault.mechanism in evidence
    assert min(during) >= 250, during  # every request waited at least the delay
    assert after < 250
    assert marked_rules(docker_backend, "posts") == []


def test_latency_on_redis_delays_its_port(docker_backend: DockerBackend) -> None:
    spec = Latency(fault="latency", target="redis", at_s=0, duration_s=LONG, delay_ms=100)
    fault = docker_backend.apply(spec)
    ok, evidence = fault.verify()
    fault.revert()
    assert ok, evidence
    assert marked_rules(docker_backend, "redis") == []


def test_partition_times_out_both_ways_between_gateway_and_timeline_1(
    docker_backend: DockerBackend,
) -> None:
    spec = Partition(
        fault="partition", target="gateway", peer="timeline-1", at_s=0, duration_s=LONG
    )
    fault = docker_backend.apply(spec)
    try:
        ok, evidence = fault.verify()
        assert ok, evidence
        assert connect(docker_backend, "timeline-1", "gateway") == "timeout"
        assert connect(docker_backend, "timeline-2", "gateway") == "connected"  # only that pair
    finally:
        fault.revert()
    assert connect(docker_backend, "timeline-1", "gateway") == "connected"
    assert connect(docker_backend, "gateway", "timeline-1") == "connected"
    assert marked_rules(docker_backend, "gateway") == []


def test_loss_is_a_random_drop_rule_while_it_lasts(docker_backend: DockerBackend) -> None:
    fault = docker_backend.apply(
        Loss(fault="loss", target="users", at_s=0, duration_s=LONG, percent=5)
    )
    try:
        ok, evidence = fault.verify()
        [rule] = marked_rules(docker_backend, "users")
    finally:
        fault.revert()
    assert ok, evidence
    assert "statistic" in rule["rule"] and "DROP" in rule["rule"]
    assert marked_rules(docker_backend, "users") == []


def test_http_errors_make_trends_answer_503_through_its_hook(docker_backend: DockerBackend) -> None:
    spec = HttpErrors(fault="http-errors", target="trends", at_s=0, duration_s=LONG, rate=1)
    fault = docker_backend.apply(spec)
    try:
        ok, evidence = fault.verify()
        assert docker_backend.hooks.active("trends")["error_rate"] == 1
    finally:
        fault.revert()
    assert ok, evidence
    assert docker_backend.hooks.active("trends")["remaining_s"] == 0


def test_cpu_busy_loops_burn_inside_the_target_until_revert(docker_backend: DockerBackend) -> None:
    fault = docker_backend.apply(
        Cpu(fault="cpu", target="trends", at_s=0, duration_s=LONG, workers=2)
    )
    ok, evidence = fault.verify()
    fault.revert()
    assert ok, evidence
    _, out = docker_backend.container("trends").exec_run(
        ["sh", "-c", "ls /tmp/failwhale-chaos-cpu-* 2>&1"]
    )
    assert b"No such file" in out
