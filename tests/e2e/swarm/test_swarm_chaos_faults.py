"""The swarm backend on the session's swarm stack: every fault kind applied to a task (or a
service), shown to have taken effect, and reverted, with the stack whole afterwards; what it
refuses (a drain on one node, errors on Redis); and a sweep after a runner was SIGKILLed in the
middle of its faults, with its journal and without it."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chaos.backends.swarm.driver import SwarmBackend
from chaos.journal import Journal
from chaos.scenario import (
    Cpu,
    Drain,
    HttpErrors,
    Kill,
    Latency,
    Loss,
    Partition,
    Pause,
    Restart,
    RollingRestart,
    Scale,
    Stop,
)
from tests.e2e.swarm.conftest import SwarmStack

pytestmark = [pytest.mark.e2e, pytest.mark.swarm, pytest.mark.timeout(900)]
ROOT = Path(__file__).resolve().parents[3]
D = 30.0  # long enough for a helper and its probe on a busy machine


def whole(backend: SwarmBackend) -> list[str]:
    """What is not as deployed: services short of their replicas, paused tasks, helpers."""
    wrong = []
    for name in backend.engine.services():
        if not backend.engine.converged(name):
            wrong.append(
                f"{name}: {len(backend.engine.running(name))}/{backend.engine.replicas(name)}"
            )
    wrong += [f"{n} paused" for n, c in backend.containers().items() if c.status == "paused"]
    wrong += [f"helper {h.name}" for h in backend.helpers.leftovers()]
    return wrong


def wait_whole(backend: SwarmBackend, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while (wrong := whole(backend)) and time.monotonic() < deadline:
        time.sleep(1)
    assert not wrong, wrong


FAULTS = [
    Kill(fault="kill", target="timeline-1", at_s=0, duration_s=D),
    Stop(fault="stop", target="trends", at_s=0, duration_s=D),
    Pause(fault="pause", target="trends", at_s=0, duration_s=D),
    Restart(fault="restart", target="posts", at_s=0, duration_s=60),
    Latency(fault="latency", target="posts", at_s=0, duration_s=D, delay_ms=300),
    Loss(fault="loss", target="trends", at_s=0, duration_s=D, percent=40),
    Partition(fault="partition", target="gateway", peer="timeline", at_s=0, duration_s=D),
    HttpErrors(fault="http-errors", target="posts", at_s=0, duration_s=D, rate=0.5),
    Cpu(fault="cpu", target="trends", at_s=0, duration_s=D, workers=1),
    Scale(fault="scale", target="trends", to=0, at_s=0, duration_s=D),
    Scale(fault="scale", target="timeline", to=3, at_s=0, duration_s=60),
    RollingRestart(fault="rolling-restart", target="trends", at_s=0, duration_s=90),
]


@pytest.mark.parametrize("spec", FAULTS, ids=lambda s: f"{s.fault}-{s.target}")
def test_each_fault_takes_effect_on_swarm_and_is_reverted(
    backend: SwarmBackend, spec: object
) -> None:
    wait_whole(backend)
    assert backend.check(spec) is None  # type: ignore[arg-type]
    fault = backend.apply(spec)  # type: ignore[arg-type]
    try:
        deadline = time.monotonic() + spec.duration_s  # type: ignore[attr-defined]
        while not fault.verify()[0] and time.monotonic() < deadline:
            time.sleep(1)
        assert fault.took_effect, fault.evidence
    finally:
        fault.revert()
    assert fault.reverted and fault.revert_evidence
    wait_whole(backend)
    assert not backend.journal.pending()


def test_a_killed_task_is_replaced_and_the_time_measured(backend: SwarmBackend) -> None:
    wait_whole(backend)
    [second] = backend.picked("timeline-2", None)  # slot 2, or the second slot left by a scale
    fault = backend.apply(Kill(fault="kill", target="timeline-2", at_s=0, duration_s=60))
    deadline = time.monotonic() + 60
    while "replaced" not in fault.window(0).figures and time.monotonic() < deadline:
        time.sleep(1)
    fault.revert()
    replaced = fault.window(0).figures["replaced"][0]
    assert replaced["task"] == second.label and replaced["by"] == "orchestrator"
    assert 0 < replaced["seconds"] < 60
    wait_whole(backend)


def test_what_swarm_cannot_do_here_is_refused_with_the_reason(backend: SwarmBackend) -> None:
    errors = HttpErrors(fault="http-errors", target="redis", at_s=0, duration_s=5, rate=0.5)
    assert backend.check(errors) == "redis has no fault hook: http-errors needs an HTTP service"
    slot = Kill(fault="kill", target="timeline-1", at_s=0, duration_s=5)
    backend.engine.wait_converged("timeline")
    deadline = time.monotonic() + 60  # a replaced slot-1 task may still be starting
    while backend.check(slot) is not None and time.monotonic() < deadline:
        time.sleep(1)
    assert backend.check(slot) is None
    if len(backend.engine.nodes()) > 1:
        pytest.skip("a drain is refused on one node only")
    drain = Drain(fault="drain", target="timeline-1", at_s=0, duration_s=10)
    assert "drain needs a swarm of more than one active node" in str(backend.check(drain))
    refused = backend.apply(drain)  # refused before anything is done: the run is invalid
    assert refused.verify() == (False, backend.check(drain))
    assert backend.engine.availability(backend.engine.local_node()) == "active"


RUNNER = """
import sys, time
from pathlib import Path
from chaos.backends.swarm.driver import SwarmBackend
from chaos.journal import Journal
from chaos.scenario import Latency, Pause, Scale
backend = SwarmBackend(sys.argv[1], Journal.for_scope("swarm", sys.argv[1], Path(sys.argv[2])))
for spec in (
    Pause(fault="pause", target="dms", at_s=0, duration_s=600),
    Latency(fault="latency", target="posts", at_s=0, duration_s=600, delay_ms=200),
    Scale(fault="scale", target="trends", to=0, at_s=0, duration_s=600),
):
    fault = backend.apply(spec)
    for _ in range(30):  # as the runner does: the first positive answer counts (a scale takes time)
        if fault.verify()[0]:
            break
        time.sleep(1)
    assert fault.took_effect, fault.evidence
print("applied", flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("journal_kept", [True, False], ids=["with-journal", "scan-only"])
def test_sweep_after_a_killed_runner_leaves_the_stack_whole(
    backend: SwarmBackend, swarm_stack: SwarmStack, tmp_path: Path, journal_kept: bool
) -> None:
    wait_whole(backend)
    with subprocess.Popen(
        [sys.executable, "-c", RUNNER, swarm_stack.name, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "FAILWHALE_CHAOS_DEADMAN": "off"},
    ) as runner:
        assert runner.stdout is not None
        assert runner.stdout.readline().strip() == "applied"
        runner.send_signal(signal.SIGKILL)
    journal = Journal.for_scope("swarm", swarm_stack.name, tmp_path)
    assert len(journal.pending()) == 3
    if not journal_kept:
        journal.path.unlink()
    assert whole(backend)  # the runner's faults are still there
    swept = SwarmBackend(swarm_stack.name, journal)
    try:
        said = swept.sweep()
    finally:
        swept.close()
    assert said
    wait_whole(backend, timeout_s=180)
    assert backend.engine.scaled_by_chaos() == {}
