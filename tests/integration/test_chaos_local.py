"""Every fault of the local backend applied and reverted for real on a stack of its own: each
shows it took effect while it lasts, the service is ready again after the revert, and a fault
whose effect cannot be shown says so (so the run's verdict is `invalid`)."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chaos.backends.base import NotApplied
from chaos.backends.hook import ClearHookPlans
from chaos.backends.local import processes as proc
from chaos.backends.local.driver import LocalBackend
from chaos.backends.local.records import BusyLoopsEnded
from chaos.journal import Journal
from chaos.scenario import Cpu, HttpErrors, Kill, Latency, Loss, Partition, Pause, Restart, Stop
from stack.layout import free_layout
from stack.local import LocalStack

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
LONG = 60.0  # every fault is reverted by the test long before it would revert by itself


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBackend]:
    workdir = tmp_path_factory.mktemp("chaos-local")
    stack = LocalStack(workdir, free_layout())
    stack.up()
    chaos = LocalBackend(stack, Journal(workdir / "chaos" / "local.json", {"backend": "local"}))
    try:
        yield chaos
    finally:
        try:
            chaos.sweep()
        finally:
            stack.down()


def ready(backend: LocalBackend, service: str) -> bool:
    try:
        return httpx.get(backend.layout.url(service) + "/readyz", timeout=2).is_success
    except httpx.HTTPError:
        return False


def timed_ms(url: str, **kwargs: object) -> float:
    began = time.perf_counter()
    httpx.get(url, timeout=30, **kwargs)  # type: ignore[arg-type]
    return (time.perf_counter() - began) * 1000


def test_kill_leaves_the_service_dead_until_revert_starts_it_ready(backend: LocalBackend) -> None:
    old = backend.pid("trends")
    fault = backend.apply(Kill(fault="kill", target="trends", at_s=0, duration_s=LONG))
    ok, evidence = fault.verify()
    assert ok, evidence
    assert old is not None and not proc.alive(old)
    assert not ready(backend, "trends")
    fault.revert()
    assert ready(backend, "trends"), fault.revert_evidence
    assert backend.pid("trends") != old
    assert fault.window(fault.started_at).took_effect


def test_stop_is_graceful_and_revert_starts_the_service_again(backend: LocalBackend) -> None:
    fault = backend.apply(Stop(fault="stop", target="dms", at_s=0, duration_s=LONG))
    ok, evidence = fault.verify()
    assert ok, evidence
    assert not ready(backend, "dms")
    fault.revert()
    assert ready(backend, "dms"), fault.revert_evidence


def test_pause_freezes_the_process_until_revert_resumes_it(backend: LocalBackend) -> None:
    pid = backend.pid("posts")
    assert pid is not None
    fault = backend.apply(Pause(fault="pause", target="posts", at_s=0, duration_s=LONG))
    try:
        ok, evidence = fault.verify()
        assert ok, evidence
        assert proc.state(pid) == "T"
        with pytest.raises(httpx.TimeoutException):
            httpx.get(backend.layout.url("posts") + "/healthz", timeout=1)
    finally:
        fault.revert()
    assert proc.state(pid) != "T"
    assert ready(backend, "posts")
    assert backend.pid("posts") == pid  # the same process, resumed


def test_restart_replaces_the_process_and_it_is_ready_after(backend: LocalBackend) -> None:
    old = backend.pid("users")
    fault = backend.apply(Restart(fault="restart", target="users", at_s=0, duration_s=LONG))
    ok, evidence = fault.verify()
    assert ok, evidence
    fault.revert()
    assert backend.pid("users") != old
    assert ready(backend, "users"), fault.revert_evidence


def test_latency_makes_requests_to_the_target_slower_by_the_delay(backend: LocalBackend) -> None:
    url = backend.layout.url("dms") + "/internal/chaos-probe"
    spec = Latency(fault="latency", target="dms", at_s=0, duration_s=LONG, delay_ms=300)
    fault = backend.apply(spec)
    try:
        ok, evidence = fault.verify()
        assert ok, evidence
        during = min(timed_ms(url) for _ in range(3))
    finally:
        fault.revert()
    assert during >= 300  # every request waits at least the delay (timing the rest is noise)
    assert fault.mechanism == "fault-hook"
    after = min(timed_ms(url) for _ in range(3))
    assert after < 300


def test_http_errors_answer_503s_from_the_target(backend: LocalBackend) -> None:
    url = backend.layout.url("posts") + "/internal/chaos-probe"
    fault = backend.apply(
        HttpErrors(fault="http-errors", target="posts", at_s=0, duration_s=LONG, rate=1)
    )
    try:
        ok, evidence = fault.verify()
        assert ok, evidence
        assert {httpx.get(url, timeout=5).status_code for _ in range(5)} == {503}
    finally:
        fault.revert()
    assert httpx.get(url, timeout=5).status_code == 404  # the probe path is no route


def test_partition_blackholes_the_gateway_at_timeline_1(backend: LocalBackend) -> None:
    spec = Partition(
        fault="partition", target="timeline-1", peer="gateway", at_s=0, duration_s=LONG
    )
    fault = backend.apply(spec)
    url = backend.layout.url("timeline-1") + "/internal/chaos-probe"
    try:
        ok, evidence = fault.verify()
        assert ok, evidence
        with pytest.raises(httpx.TimeoutException):
            httpx.get(url, headers=backend.credential("timeline-1", "gateway"), timeout=1)
        # Other callers still get through: it is a partition between two services only.
        assert (
            httpx.get(url, headers=backend.credential("timeline-1", "posts"), timeout=2).status_code
            == 404
        )
    finally:
        fault.revert()
    assert (
        httpx.get(url, headers=backend.credential("timeline-1", "gateway"), timeout=2).status_code
        == 404
    )


def test_cpu_busy_loops_burn_cpu_until_revert(backend: LocalBackend) -> None:
    fault = backend.apply(Cpu(fault="cpu", target="trends", at_s=0, duration_s=LONG, workers=2))
    ok, evidence = fault.verify()
    entry = backend.journal.get(fault.id)
    assert entry is not None and isinstance(entry.undo, BusyLoopsEnded)
    pids = [pid for pid, _ in entry.undo.pids]
    fault.revert()
    assert ok, evidence
    assert len(pids) == 2
    assert not any(proc.alive(pid) for pid in pids)


def test_loss_is_refused_before_anything_runs(backend: LocalBackend) -> None:
    spec = Loss(fault="loss", target="posts", at_s=0, duration_s=LONG, percent=10)
    assert backend.check(spec) is not None
    fault = backend.apply(spec)
    assert isinstance(fault, NotApplied)
    assert fault.verify()[0] is False


def test_pausing_a_process_that_already_exited_did_not_take_effect(backend: LocalBackend) -> None:
    kill = backend.apply(Kill(fault="kill", target="trends", at_s=0, duration_s=LONG))
    try:
        pause = backend.apply(Pause(fault="pause", target="trends", at_s=0, duration_s=LONG))
        ok, evidence = pause.verify()
        pause.revert()
    finally:
        kill.revert()
    assert not ok
    assert "not running" in evidence or "gone" in evidence
    assert not pause.window(pause.started_at).took_effect


def test_errors_through_a_hook_that_is_off_did_not_take_effect(backend: LocalBackend) -> None:
    stack = backend.stack
    stack.stop("trends")
    stack.env = {"FAILWHALE_FAULT_HOOK": "off"}
    try:
        stack.start_service("trends")
        stack.wait_ready("trends")
        spec = HttpErrors(fault="http-errors", target="trends", at_s=0, duration_s=LONG, rate=1)
        assert "off" in (backend.check(spec) or "")
        fault = backend.apply(spec)
        ok, evidence = fault.verify()
        fault.revert()
    finally:
        stack.env = {}
        stack.stop("trends")
        stack.start_service("trends")
        stack.wait_ready("trends")
    assert not ok
    assert "hook is off" in evidence


def test_the_journal_holds_each_fault_from_before_apply_until_reverted(
    backend: LocalBackend,
) -> None:
    fault = backend.apply(
        Latency(fault="latency", target="users", at_s=0, duration_s=LONG, delay_ms=5)
    )
    entry = backend.journal.get(fault.id)
    assert entry is not None and entry.state == "applied"
    assert entry.undo == ClearHookPlans(services=("users",))
    fault.revert()
    fault.revert()  # idempotent
    entry = backend.journal.get(fault.id)
    assert entry is not None and entry.state == "reverted"


SCRIPT = """
import sys, time
from pathlib import Path
from chaos.backends.local.driver import LocalBackend
from chaos.backends.local.records import BusyLoopsEnded
from chaos.journal import Journal
from chaos.scenario import Cpu, HttpErrors, Pause
workdir = Path(sys.argv[1])
backend = LocalBackend.from_workdir(workdir, Journal(workdir / "chaos" / "local.json", {}))
for spec in (Pause(fault="pause", target="dms", at_s=0, duration_s=300),
             HttpErrors(fault="http-errors", target="posts", at_s=0, duration_s=300, rate=1),
             Cpu(fault="cpu", target="users", at_s=0, duration_s=300, workers=1)):
    assert backend.apply(spec).verify()[0]
print("applied", flush=True)
time.sleep(300)
"""


def test_sweep_undoes_what_a_killed_runner_left(backend: LocalBackend) -> None:
    workdir = backend.stack.workdir
    with subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(workdir)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    ) as runner:
        assert runner.stdout is not None
        assert runner.stdout.readline().strip() == "applied"
        runner.send_signal(signal.SIGKILL)
    dms = backend.pid("dms")
    assert dms is not None and proc.state(dms) == "T"
    assert len(backend.journal.pending()) == 3

    done = backend.sweep()

    assert proc.state(dms) not in ("T", None), done
    assert all(ready(backend, s) for s in ("dms", "posts", "users")), done
    assert (
        httpx.get(backend.layout.url("posts") + "/internal/chaos-probe", timeout=5).status_code
        == 404
    )
    assert not [p for p in Path("/proc").glob("[0-9]*/cmdline") if _busy(p)], done
    assert backend.journal.pending() == []


DIES_MID_PAUSE = """
import sys, time
from pathlib import Path
from chaos.backends.local.driver import LocalBackend
from chaos.backends.local.records import BusyLoopsEnded
from chaos.journal import Journal
from chaos.scenario import Pause
workdir = Path(sys.argv[1])
backend = LocalBackend.from_workdir(workdir, Journal(workdir / "chaos" / "local.json", {}))
assert backend.apply(Pause(fault="pause", target="trends", at_s=0, duration_s=2)).verify()[0]
print("applied", flush=True)
time.sleep(300)
"""


def test_a_pause_reverts_on_its_own_when_its_runner_dies(backend: LocalBackend) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", DIES_MID_PAUSE, str(backend.stack.workdir)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "FAILWHALE_CHAOS_GRACE_S": "1"},
    ) as runner:
        assert runner.stdout is not None
        assert runner.stdout.readline().strip() == "applied"
        runner.send_signal(signal.SIGKILL)
    trends = backend.pid("trends")
    assert trends is not None and proc.state(trends) == "T"
    # 2 s of fault and the grace: 1 s here, or 10 s if a timer started by this module's own
    # faults still watches the journal.
    assert proc.wait_until(lambda: proc.state(trends) not in ("T", None), 30, 0.2)
    [entry] = [e for e in backend.journal.entries() if e.target == "trends" and e.kind == "pause"][
        -1:
    ]
    assert entry.state == "reverted" and "dead-man" in entry.note


def _busy(path: Path) -> bool:
    try:
        return proc.CPU_TAG.encode() in path.read_bytes() and int(path.parent.name) != os.getpid()
    except OSError:
        return False
