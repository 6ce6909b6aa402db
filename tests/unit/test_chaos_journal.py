"""The chaos journal: entries survive a round trip through the file (with the origin a sweep needs
to rebuild the backend, and each undo record as the typed model of its kind), updates and reverts
are recorded, a sweep's compaction keeps only what is still applied, and a journal of the earlier
untyped format is refused with what to do. And the handle a fault returns: a shown effect
sticks, revert runs once."""

import json
from pathlib import Path
from typing import Any

import pytest

from chaos.backends.base import AppliedFault, NotApplied
from chaos.backends.docker.records import BusyLoopsIn, ContainerRunning, NetworkRules
from chaos.backends.hook import ClearHookPlans
from chaos.backends.local.records import BusyLoopsEnded, GroupResumed, ServiceRunning
from chaos.journal import Entry, Journal, JournalFormatError
from chaos.scenario import Kill, Pause
from chaos.undo import UndoRecord

START = ServiceRunning(service="posts")


def entry(id: str, undo: UndoRecord = START, **fields: Any) -> Entry:
    return Entry(id=id, kind="kill", target="posts", mechanism="signal", undo=undo, **fields)


def test_entries_round_trip_through_the_file_with_their_origin(tmp_path: Path) -> None:
    journal = Journal.for_scope("docker", "failwhale-e2e", tmp_path)
    undo = ContainerRunning(container="abc123", paused=True)
    journal.record(entry("pause-redis-1", undo, expires_at=12.5))

    reopened = Journal.open(tmp_path / "docker-failwhale-e2e.json")

    assert reopened.origin == {"backend": "docker", "scope": "failwhale-e2e"}
    [read] = reopened.entries()
    assert read.id == "pause-redis-1"
    assert read.undo == undo and isinstance(read.undo, ContainerRunning)
    assert read.state == "applying"
    assert read.expires_at == 12.5


@pytest.mark.parametrize(
    "undo",
    [
        ContainerRunning(container="c1"),
        NetworkRules(
            container="c1", marker="failwhale-chaos:l-1", holder="h", prober="p", qdisc=True
        ),
        BusyLoopsIn(container="c1", pidfile="/tmp/x.pids"),
        ClearHookPlans(services=("dms", "posts")),
        ServiceRunning(service="posts"),
        GroupResumed(pid=42, starttime=1234),
        BusyLoopsEnded(pids=((42, 1234), (43, None))),
    ],
    ids=lambda r: r.kind,
)
def test_every_kind_of_undo_record_comes_back_as_its_own_model(
    tmp_path: Path, undo: UndoRecord
) -> None:
    journal = Journal(tmp_path / "j.json", {"backend": "docker"})
    journal.record(entry("f", undo))
    [read] = Journal.open(tmp_path / "j.json").entries()
    assert type(read.undo) is type(undo) and read.undo == undo
    assert json.loads((tmp_path / "j.json").read_text())["entries"][0]["undo"]["kind"] == undo.kind


def test_an_undo_of_an_unknown_kind_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.json"
    bad = {"id": "x", "kind": "kill", "target": "posts", "mechanism": "docker",
           "undo": {"kind": "no-such-thing"}}  # fmt: skip
    path.write_text(json.dumps({"format": 2, "origin": {}, "entries": [bad]}))
    with pytest.raises(ValueError, match="no-such-thing"):
        Journal.open(path).entries()


def test_a_journal_of_the_earlier_untyped_format_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "docker-failwhale.json"
    old = {"id": "x", "kind": "pause", "target": "redis", "mechanism": "docker",
           "undo": {"action": "unpause", "container": "abc"}, "state": "applied"}  # fmt: skip
    path.write_text(json.dumps({"origin": {"backend": "docker"}, "entries": [old]}))
    with pytest.raises(JournalFormatError, match=r"earlier version.*1 faults to undo.*chaos sweep"):
        Journal.open(path).pending()


def test_a_journal_of_the_earlier_format_with_nothing_to_undo_reads_as_empty(
    tmp_path: Path,
) -> None:
    path = tmp_path / "docker-failwhale.json"
    undo = {"action": "ensure-running", "container": "abc"}
    done = {"id": "x", "kind": "kill", "target": "posts", "mechanism": "docker", "undo": undo,
            "state": "reverted"}  # fmt: skip
    path.write_text(json.dumps({"origin": {"backend": "docker"}, "entries": [done]}))
    journal = Journal.open(path)
    assert journal.pending() == []
    journal.record(entry("new"))
    assert json.loads(path.read_text())["format"] == 2
    assert [e.id for e in journal.entries()] == ["new"]


def test_an_applied_then_reverted_entry_is_no_longer_pending(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.json", {"backend": "local"})
    journal.record(entry("a"))
    journal.record(entry("b", BusyLoopsEnded()))
    journal.update("a", state="applied")
    assert [e.id for e in journal.pending()] == ["a", "b"]

    journal.mark_reverted("a", "started again")

    assert [e.id for e in journal.pending()] == ["b"]
    reverted = journal.get("a")
    assert (
        reverted is not None and reverted.state == "reverted" and reverted.note == "started again"
    )
    assert reverted.reverted_at is not None


def test_compaction_drops_reverted_entries_only(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.json", {})
    for name in ("a", "b", "c"):
        journal.record(entry(name))
    journal.mark_reverted("b")
    assert journal.forget_reverted() == 1
    assert [e.id for e in journal.entries()] == ["a", "c"]


def test_the_file_is_whole_json_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.json", {"backend": "local"})
    for n in range(5):
        journal.record(entry(f"f{n}"))
    assert len(json.loads((tmp_path / "j.json").read_text())["entries"]) == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["j.json", "j.lock"]


def test_unknown_fields_of_a_newer_journal_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "j.json"
    written = {"id": "x", "kind": "kill", "target": "posts", "mechanism": "docker",
               "undo": START.model_dump(), "state": "applied", "from_the_future": 1}  # fmt: skip
    path.write_text(json.dumps({"format": 2, "origin": {}, "entries": [written]}))
    assert Journal.open(path).entries()[0].state == "applied"


class Flaky(AppliedFault):
    def __init__(self, journal: Journal, answers: list[bool]) -> None:
        super().__init__(
            Kill(fault="kill", target="posts", at_s=0, duration_s=5), "k1", "docker", journal
        )
        self.answers = answers
        self.reverts = 0

    def _verify(self) -> tuple[bool, str]:
        ok = self.answers.pop(0)
        return ok, "dead" if ok else "alive"

    def _revert(self) -> str:
        self.reverts += 1
        return "started"


def test_a_shown_effect_sticks_and_revert_runs_once(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.json", {})
    journal.record(entry("k1"))
    fault = Flaky(journal, [True, False])
    assert fault.verify() == (True, "dead")
    assert fault.verify() == (False, "alive")
    fault.revert()
    fault.revert()
    window = fault.window(fault.started_at - 10)
    assert (window.took_effect, window.evidence, window.mechanism) == (True, "dead", "docker")
    assert window.start_s >= 10 and window.end_s is not None and window.end_s >= window.start_s
    assert fault.reverts == 1
    reverted = journal.get("k1")
    assert reverted is not None and reverted.state == "reverted"


def test_a_verify_that_breaks_counts_as_no_effect(tmp_path: Path) -> None:
    fault = Flaky(Journal(tmp_path / "j.json", {}), [])  # pop from an empty list raises
    ok, evidence = fault.verify()
    assert not ok and "could not verify" in evidence


def test_a_fault_that_could_not_take_hold_verifies_false_with_its_reason(tmp_path: Path) -> None:
    spec = Pause(fault="pause", target="trends", at_s=0, duration_s=5)
    fault = NotApplied(spec, "p1", "signal", Journal(tmp_path / "j.json", {}), "pid 42 is gone")
    assert fault.verify() == (False, "pid 42 is gone")
    fault.revert()
    assert not fault.window(0).took_effect
