"""The chaos journal: entries survive a round trip through the file (with the origin a sweep needs
to rebuild the backend), updates and reverts are recorded, and a sweep's compaction keeps only
what is still applied. And the handle a fault returns: a shown effect sticks, revert runs once."""

import json
from pathlib import Path

from chaos.backends.base import AppliedFault, NotApplied
from chaos.journal import Entry, Journal
from chaos.scenario import Kill, Pause


def test_entries_round_trip_through_the_file_with_their_origin(tmp_path: Path) -> None:
    journal = Journal.for_scope("docker", "failwhale-e2e", tmp_path)
    undo = {"action": "unpause", "container": "abc123"}
    journal.record(Entry("pause-redis-1", "pause", "redis", "docker", undo, expires_at=12.5))

    reopened = Journal.open(tmp_path / "docker-failwhale-e2e.json")

    assert reopened.origin == {"backend": "docker", "scope": "failwhale-e2e"}
    [entry] = reopened.entries()
    assert entry.id == "pause-redis-1"
    assert entry.undo == undo
    assert entry.state == "applying"
    assert entry.expires_at == 12.5


def test_an_applied_then_reverted_entry_is_no_longer_pending(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.json", {"backend": "local"})
    journal.record(Entry("a", "kill", "posts", "signal", {"action": "start", "service": "posts"}))
    journal.record(Entry("b", "cpu", "users", "busy-loop", {"action": "kill-pids", "pids": []}))
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
        journal.record(Entry(name, "kill", "posts", "signal", {}))
    journal.mark_reverted("b")
    assert journal.forget_reverted() == 1
    assert [e.id for e in journal.entries()] == ["a", "c"]


def test_the_file_is_whole_json_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.json", {"backend": "local"})
    for n in range(5):
        journal.record(Entry(f"f{n}", "kill", "posts", "signal", {}))
    assert len(json.loads((tmp_path / "j.json").read_text())["entries"]) == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["j.json", "j.lock"]


def test_unknown_fields_of_a_newer_journal_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "j.json"
    entry = {"id": "x", "kind": "kill", "target": "posts", "mechanism": "docker", "undo": {},
             "state": "applied", "from_the_future": 1}  # fmt: skip
    path.write_text(json.dumps({"origin": {}, "entries": [entry]}))
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
    journal.record(Entry("k1", "kill", "posts", "docker", {}))
    fault = Flaky(journal, [True, False])
    assert fault.verify() == (True, "dead")
    assert fault.verify() == (False, "alive")
    fault.revert()
    fault.revert()
    window = fault.window(fault.started_at - 10)
    assert (window.took_effect, window.evidence, window.mechanism) == (True, "dead", "docker")
    assert window.start_s >= 10 and window.end_s is not None and window.end_s >= window.start_s
    assert fault.reverts == 1
    entry = journal.get("k1")
    assert entry is not None and entry.state == "reverted"


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
