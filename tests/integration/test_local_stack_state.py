"""Two objects over one local stack's folder (the stack's owner, and a chaos backend or the
console's agent that restarts what a fault killed): `down` by the owner stops the processes the
other one started again too, not only the pids the owner remembers."""

from pathlib import Path

import pytest

from stack.layout import free_layout
from stack.local import LocalStack, _alive

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def test_down_stops_a_process_another_object_started_again(tmp_path: Path) -> None:
    owner = LocalStack(tmp_path, free_layout())
    owner.start_redis()
    first = owner.pid("redis")
    other = LocalStack(tmp_path, owner.layout)  # e.g. the chaos backend of another process
    other.pid("redis")  # it reads the state file
    other.stop("redis")  # a kill...
    other.start_redis()  # ...reverted: a new process
    again = other.pid("redis")
    assert again != first and _alive(again)
    owner.down()
    assert not _alive(again), "the restarted process outlived the stack's down"
    assert not owner.state_file.exists()
    other.down()  # nothing left to stop: it only lets go of its handle of the process
