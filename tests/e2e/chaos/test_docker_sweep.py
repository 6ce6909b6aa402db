"""`sweep` after a runner was killed in the middle of its faults (a pause, a delay proxy and a
partition): with its journal, and with the journal lost (the scan alone). Afterwards nothing of
ours is left: no paused container, no helper, no marked rule, every service ready. And neither
faults nor sweeps touch a container outside the compose project."""

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from docker.models.containers import Container

from chaos.backends.docker.driver import DockerBackend
from chaos.backends.docker.helpers import HELPER_IMAGE, HELPER_LABEL, MARKER_PREFIX, PROJECT_LABEL
from chaos.journal import Journal
from chaos.scenario import Kill

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]
ROOT = Path(__file__).resolve().parents[3]

RUNNER = """
import sys, time
from pathlib import Path
from chaos.backends import backend_for
from chaos.scenario import Latency, Partition, Pause
backend = backend_for("docker", project=sys.argv[1], journal_dir=Path(sys.argv[2]))
for spec in (
    Pause(fault="pause", target="trends", at_s=0, duration_s=600),
    Latency(fault="latency", target="posts", at_s=0, duration_s=600, delay_ms=200),
    Partition(fault="partition", target="gateway", peer="timeline-1", at_s=0, duration_s=600),
):
    fault = backend.apply(spec)
    assert fault.verify()[0], fault.evidence
print("applied", flush=True)
time.sleep(600)
"""


DIES_MID_PAUSE = """
import sys, time
from pathlib import Path
from chaos.backends import backend_for
from chaos.scenario import Pause
backend = backend_for("docker", project=sys.argv[1], journal_dir=Path(sys.argv[2]))
assert backend.apply(Pause(fault="pause", target="trends", at_s=0, duration_s=3)).verify()[0]
print("applied", flush=True)
time.sleep(300)
"""


def kill_a_runner_mid_fault(
    project: str, journal_dir: Path, script: str = RUNNER, **env: str
) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", script, project, str(journal_dir)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
    ) as runner:
        assert runner.stdout is not None
        assert runner.stdout.readline().strip() == "applied"
        runner.send_signal(signal.SIGKILL)


def leftovers(backend: DockerBackend) -> dict[str, list[str]]:
    left: dict[str, list[str]] = {
        "not running": [n for n, c in backend.containers().items() if c.status != "running"],
        "helpers": [h.name for h in backend.helpers.leftovers()],
    }
    for name, container in backend.containers().items():
        spec = {"command": "show", "marker": MARKER_PREFIX}
        rules = backend.helpers.once("test", container, spec)["rules"]
        if rules:
            left[name] = [r["rule"] for r in rules]
    return {k: v for k, v in left.items() if v}


def assert_all_ready(backend: DockerBackend) -> None:
    for name, container in backend.containers().items():
        assert backend.wait_ready(container)[0], f"{name} not ready after the sweep"


def test_sweep_after_a_runner_killed_mid_fault_leaves_nothing(
    docker_backend: DockerBackend, journal_dir: Path
) -> None:
    kill_a_runner_mid_fault(docker_backend.project, journal_dir)
    before = leftovers(docker_backend)
    assert before["not running"] == ["trends"]
    assert len(before["helpers"]) == 3  # two holders and the latency prober
    assert {"posts", "gateway"} <= set(before)
    assert len(docker_backend.journal.pending()) == 3

    done = docker_backend.sweep()

    assert leftovers(docker_backend) == {}, done
    assert docker_backend.journal.pending() == []
    assert_all_ready(docker_backend)


def test_sweep_without_the_journal_finds_everything_by_scanning(
    docker_backend: DockerBackend, tmp_path: Path
) -> None:
    kill_a_runner_mid_fault(docker_backend.project, tmp_path)
    for journal in tmp_path.glob("*.json"):
        journal.unlink()  # lost: only the scan can find what the runner left

    done = docker_backend.sweep()

    assert leftovers(docker_backend) == {}, done
    assert any("helper container" in line for line in done)
    assert any(MARKER_PREFIX in line for line in done)
    assert_all_ready(docker_backend)


def test_a_paused_container_resumes_on_its_own_when_its_runner_dies(
    docker_backend: DockerBackend, tmp_path: Path
) -> None:
    kill_a_runner_mid_fault(
        docker_backend.project, tmp_path, DIES_MID_PAUSE, FAILWHALE_CHAOS_GRACE_S="1"
    )
    trends = docker_backend.container("trends")
    assert trends.status == "paused"
    deadline = time.monotonic() + 30  # 3 s of fault, 1 s of grace, and a loaded machine
    while trends.status == "paused" and time.monotonic() < deadline:
        time.sleep(0.5)
        trends.reload()
    assert trends.status == "running"
    # The dead-man timer writes the journal just after it resumed the container.
    journal = tmp_path / f"docker-{docker_backend.project}.json"
    [entry] = Journal.open(journal).entries()
    while entry.state != "reverted" and time.monotonic() < deadline + 10:
        time.sleep(0.5)
        [entry] = Journal.open(journal).entries()
    assert entry.state == "reverted" and "dead-man" in entry.note


@pytest.fixture
def bystanders() -> Iterator[list[Container]]:
    """A plain container, and a paused decoy that looks like a service (and a helper) of
    another compose project."""
    client = docker.from_env()
    tag = secrets.token_hex(3)
    decoy_labels = {
        "com.docker.compose.project": "failwhale-bystander",
        "com.docker.compose.service": "posts",
        HELPER_LABEL: "1",
        PROJECT_LABEL: "failwhale-bystander",
    }
    run = {"detach": True, "command": ["sleep", "600"]}
    plain = client.containers.run(HELPER_IMAGE, name=f"failwhale-bystander-{tag}", **run)
    decoy = client.containers.run(
        HELPER_IMAGE, name=f"failwhale-decoy-{tag}", labels=decoy_labels, **run
    )
    decoy.pause()
    try:
        yield [plain, decoy]
    finally:
        for container in (plain, decoy):
            container.remove(force=True)
        client.close()


def test_faults_and_sweeps_never_touch_containers_outside_the_project(
    docker_backend: DockerBackend, bystanders: list[Container]
) -> None:
    plain, decoy = bystanders
    plain.reload()
    started = plain.attrs["State"]["StartedAt"]
    fault = docker_backend.apply(Kill(fault="kill", target="posts", at_s=0, duration_s=120))
    assert fault.verify()[0]
    fault.revert()
    docker_backend.sweep()
    plain.reload()
    decoy.reload()
    assert plain.status == "running" and plain.attrs["State"]["StartedAt"] == started
    assert decoy.status == "paused"  # not ours to unpause, nor to remove as a helper
