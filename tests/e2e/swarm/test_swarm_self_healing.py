"""The engine's redundancy: a SIGKILLed timeline task is replaced by a healthy one within 30 s
while home-timeline reads through the gateway stay error-free (the other replica answers), and
with FAILWHALE_SELF_HEALING=off a killed task stays dead. The replacement times are printed
(FAILWHALE_E2E_SWARM_KILLS kills, default 1)."""

import os
import statistics
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.swarm.conftest import SwarmStack, docker, running_containers

pytestmark = [pytest.mark.e2e, pytest.mark.swarm, pytest.mark.timeout(900)]

REPLACEMENT_DEADLINE_S = 30.0
KILLS = int(os.environ.get("FAILWHALE_E2E_SWARM_KILLS") or 1)


class ReadLoop:
    """Home-timeline reads of one account, back to back in a thread, every status kept."""

    def __init__(self, gateway_url: str) -> None:
        self.client = httpx.Client(base_url=gateway_url, timeout=10.0)
        handle = f"reader_{os.urandom(4).hex()}"
        answer = self.client.post(
            "/v1/users", json={"handle": handle, "password": "correct-horse-battery-staple"}
        )
        assert answer.status_code == 201, answer.text
        self.auth = {"Authorization": f"Bearer {answer.json()['token']}"}
        self.statuses: list[int] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.statuses.append(self.client.get("/v1/timeline", headers=self.auth).status_code)
            except httpx.HTTPError as exc:
                self.errors.append(repr(exc))
            time.sleep(0.05)

    def __enter__(self) -> "ReadLoop":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.client.close()

    def failures(self) -> list[str]:
        return self.errors + [str(status) for status in self.statuses if status != 200]


def timeline_containers(stack: SwarmStack) -> dict[str, str]:
    """Container id -> health of the tasks swarm wants running in the timeline service."""
    health = "{{if .State.Running}}{{.State.Health.Status}}{{else}}exited{{end}}"
    return {
        container: docker("inspect", "--format", health, container, check=False).strip()
        for container in running_containers(stack.service("timeline"))
    }


def kill_one_task(stack: SwarmStack) -> str:
    containers = timeline_containers(stack)
    healthy = sorted(c for c, health in containers.items() if health == "healthy")
    assert len(healthy) >= 2, containers
    docker("kill", "--signal", "KILL", healthy[0])
    return healthy[0]


def wait_replacement(stack: SwarmStack, killed: str, deadline_s: float) -> float | None:
    """Seconds until a task other than the killed one's brings two healthy again; None after
    `deadline_s`."""
    start = time.monotonic()
    while time.monotonic() - start < deadline_s:
        containers = timeline_containers(stack)
        healthy = [c for c, health in containers.items() if health == "healthy" and c != killed]
        if len(healthy) >= 2:
            return time.monotonic() - start
        time.sleep(0.2)
    return None


@pytest.fixture
def reads(swarm_stack: SwarmStack) -> Iterator[ReadLoop]:
    with ReadLoop(swarm_stack.gateway_url) as loop:
        time.sleep(1)
        yield loop


def test_a_killed_timeline_task_is_replaced_within_30_s_and_reads_stay_error_free(
    swarm_stack: SwarmStack, reads: ReadLoop
) -> None:
    times = []
    for _ in range(KILLS):
        killed = kill_one_task(swarm_stack)
        replaced = wait_replacement(swarm_stack, killed, REPLACEMENT_DEADLINE_S)
        assert replaced is not None, f"no healthy replacement within {REPLACEMENT_DEADLINE_S} s"
        times.append(replaced)
        time.sleep(2)
    print(
        f"\ntask replacement after SIGKILL over {len(times)} kills: "
        f"p50 {statistics.median(times):.1f} s, max {max(times):.1f} s "
        f"({', '.join(f'{t:.1f}' for t in times)}); {len(reads.statuses)} reads"
    )
    assert reads.statuses, "the read loop made no request"
    assert not reads.failures(), f"reads failed during the kills: {reads.failures()[:10]}"


def test_with_self_healing_off_a_killed_task_stays_dead(swarm_stack: SwarmStack) -> None:
    swarm_stack.redeploy(FAILWHALE_SELF_HEALING="off")
    try:
        condition = docker(
            "service",
            "inspect",
            swarm_stack.service("timeline"),
            "--format",
            "{{.Spec.TaskTemplate.RestartPolicy.Condition}}",
        ).strip()
        assert condition == "none"
        with ReadLoop(swarm_stack.gateway_url) as reads:
            time.sleep(1)
            killed = kill_one_task(swarm_stack)
            assert wait_replacement(swarm_stack, killed, 20.0) is None
        replicas = docker(
            "service",
            "ls",
            "--filter",
            f"name={swarm_stack.service('timeline')}",
            "--format",
            "{{.Replicas}}",
        ).strip()
        assert replicas == "1/2", replicas
        assert not reads.failures(), f"reads failed with one replica left: {reads.failures()[:10]}"
    finally:
        swarm_stack.redeploy(FAILWHALE_SELF_HEALING="on")
