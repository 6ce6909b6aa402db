"""When the dead-man timer reverts a fault: after its end and the grace, unless its runner is
alive and already reverting it (then only after a generous allowance)."""

import os
import subprocess
import sys

import pytest

from chaos import deadman
from chaos.backends.docker.records import ContainerRunning
from chaos.journal import Entry

NOW = 1_000_000.0


@pytest.fixture(autouse=True)
def grace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAILWHALE_CHAOS_GRACE_S", "10")


def entry(state: str, owner: int, expires_at: float) -> Entry:
    return Entry(
        id="f",
        kind="pause",
        target="redis",
        mechanism="docker",
        undo=ContainerRunning(container="c1", paused=True),
        state=state,
        owner_pid=owner,
        expires_at=expires_at,
    )


def dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(done.stdout)


def test_a_fault_is_not_overdue_before_its_end_and_the_grace() -> None:
    assert not deadman.overdue(entry("applied", dead_pid(), NOW - 5), NOW)
    assert deadman.overdue(entry("applied", dead_pid(), NOW - 11), NOW)


def test_an_applied_fault_is_overdue_even_if_its_runner_lives() -> None:
    assert deadman.overdue(entry("applied", os.getpid(), NOW - 11), NOW)


def test_a_revert_in_progress_is_left_to_a_live_runner() -> None:
    reverting = entry("reverting", os.getpid(), NOW - 11)
    assert not deadman.overdue(reverting, NOW)
    assert deadman.overdue(reverting, NOW + deadman.REVERT_ALLOWANCE_S)
    assert deadman.overdue(entry("reverting", dead_pid(), NOW - 11), NOW)
