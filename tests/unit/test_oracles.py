"""The correctness oracles on made-up histories, writes and the final audit: clean histories give
zero everywhere, and each kind of lost, duplicated, phantom or misordered write is counted
exactly, once per anomaly however often it is seen."""

from pathlib import Path

from loadtest.history import History, read_history, write_history
from loadtest.oracles import Oracles, check, combine, report_from_dict
from loadtest.readback import FinalReads, pair, post_id_floor
from tests.unit.histories import ZERO, Scenario, clean_run, counts


def test_a_clean_history_has_no_violation_and_every_acknowledged_write_is_read_back() -> None:
    s, final = clean_run()
    report = s.check(final)
    assert counts(report) == ZERO
    assert report.violations == 0
    assert report.writes == {"invoked": 5, "ok": 5, "accepted": 2, "fail": 0, "unknown": 0}
    assert report.audit == {"read_back": 5, "unverified": 0, "outbox_drained": True}
    assert report.audited
    assert report.max_staleness_s == 0.0
    assert report.reads_checked == 9  # eight reads and a follow
    assert report.visibility["posts"] == 2


def test_without_a_final_audit_live_checks_still_run_and_nothing_is_called_lost() -> None:
    s, _ = clean_run()
    report = s.check()
    assert counts(report) == ZERO
    assert not report.audited


def test_acknowledged_posts_missing_after_the_run_are_lost_whether_created_or_queued() -> None:
    s = Scenario()
    k1, p1 = s.post("ann")
    _, _ = s.post("ann")  # created, then gone
    _, _ = s.post("ann", status=202)  # queued, never delivered
    report = s.check(FinalReads(posts={"ann": [(p1, k1)]}))
    assert counts(report) == ZERO | {"lost_writes": 2}
    assert report.audit["read_back"] == 3
    assert "missing after the run" in report.examples["lost_writes"][0]


def test_a_post_found_only_under_another_id_than_acknowledged_is_lost() -> None:
    s = Scenario()
    key, post_id = s.post("ann")
    report = s.check(FinalReads(posts={"ann": [(post_id + 1, key)]}))
    assert counts(report) == ZERO | {"lost_writes": 1}


def test_writes_of_unknown_outcome_may_be_there_or_not_but_never_twice() -> None:
    s = Scenario()
    k1, p1 = s.post("ann", outcome="unknown", status=0)
    s.post("ann", outcome="unknown", status=0)  # never happened: fine
    k3, p3 = s.post("ann", outcome="unknown", status=504)
    final = FinalReads(posts={"ann": [(p3 + 2, k3), (p3 + 1, k3), (p1, k1)]})
    report = s.check(final)
    assert counts(report) == ZERO | {"duplicate_writes": 1}
    assert report.writes["unknown"] == 3


def test_a_post_applied_twice_is_one_duplicate_seen_live_and_in_the_audit() -> None:
    s = Scenario()
    key, post_id = s.post("ann")
    twice: list[tuple[int, str | None]] = [(post_id + 5, key), (post_id, key)]
    s.read_posts("ann", "ann", twice)
    s.read_posts("ann", "ann", twice)
    report = s.check(FinalReads(posts={"ann": twice}))
    assert counts(report) == ZERO | {"duplicate_writes": 1}


def test_a_write_that_failed_but_took_effect_is_a_phantom() -> None:
    s = Scenario()
    key, post_id = s.post("ann", outcome="fail", status=422)
    s.post("ann", outcome="fail", status=401)
    report = s.check(FinalReads(posts={"ann": [(post_id, key)]}))
    assert counts(report) == ZERO | {"phantom_writes": 1}


def test_writes_of_an_author_that_could_not_be_read_back_are_unverified_not_lost() -> None:
    s = Scenario()
    s.post("ann")
    s.post("ann")
    report = s.check(FinalReads(posts={}, unreadable=["posts of ann"]))
    assert counts(report) == ZERO
    assert report.audit["unverified"] == 2


def test_a_gap_in_a_conversation_is_counted_once_however_many_reads_show_it() -> None:
    s = Scenario()
    s.read_dms("ann", "bob", 0, [(1, "x.1"), (2, "x.2"), (4, "x.4")])
    s.read_dms("bob", "ann", 2, [(4, "x.4")], device="2/1")
    s.read_dms("ann", "bob", 4, [])
    report = s.check()
    assert counts(report) == ZERO | {"dm_order_violations": 1}
    assert "gap, seq 4 where 3 was due" in report.examples["dm_order_violations"][0]


def test_an_inverted_conversation_in_the_final_read_is_a_dm_order_violation() -> None:
    s = Scenario()
    d1 = s.dm("ann", "bob", seq=1)
    d2 = s.dm("ann", "bob", seq=2)
    final = FinalReads(conversations={pair("ann", "bob"): [(2, d2), (1, d1)]})
    report = s.check(final)
    assert counts(report) == ZERO | {"dm_order_violations": 1}
    assert "inversion, seq 2 where 1 was due" in report.examples["dm_order_violations"][0]


def test_a_dm_acknowledged_before_another_was_sent_must_come_first() -> None:
    s = Scenario()
    first = s.dm("ann", "bob", seq=None, status=202)  # queued
    second = s.dm("bob", "ann", seq=1, device="2/1")  # sent after, yet delivered first
    final = FinalReads(conversations={pair("ann", "bob"): [(1, second), (2, first)]})
    report = s.check(final)
    assert counts(report) == ZERO | {"dm_order_violations": 1}
    assert "sent after seq 2 was acknowledged" in report.examples["dm_order_violations"][0]


def test_concurrent_dms_may_land_in_either_order() -> None:
    s = Scenario()
    first_key = s.history.new_key()
    second_key = s.history.new_key()
    a = s.history.invoke("dm", "ann", "1/1", {"key": first_key, "peer": "bob", "text": "a"})
    b = s.history.invoke("dm", "bob", "2/1", {"key": second_key, "peer": "ann", "text": "b"})
    s.tick()
    s.history.complete(b, "ok", {"status": 201, "seq": 1})
    s.history.complete(a, "ok", {"status": 201, "seq": 2})
    final = FinalReads(conversations={pair("ann", "bob"): [(1, second_key), (2, first_key)]})
    assert counts(s.check(final)) == ZERO


def test_acknowledged_dms_missing_or_doubled_after_the_run() -> None:
    s = Scenario()
    d1 = s.dm("ann", "bob", seq=1)
    s.dm("ann", "bob", seq=None, status=202)  # queued, never delivered
    d3 = s.dm("ann", "bob", seq=None, status=202)  # delivered twice
    final = FinalReads(conversations={pair("ann", "bob"): [(1, d1), (2, d3), (3, d3)]})
    report = s.check(final)
    assert counts(report) == ZERO | {"lost_writes": 1, "duplicate_writes": 1}


def test_a_seq_that_changes_its_message_between_reads_is_a_dm_order_violation() -> None:
    s = Scenario()
    s.read_dms("ann", "bob", 0, [(1, "x.1"), (2, "x.2")])
    s.read_dms("bob", "ann", 1, [(2, "x.9")], device="2/1")
    report = s.check()
    assert counts(report) == ZERO | {"dm_order_violations": 1}


def test_live_violations_are_returned_as_the_events_reveal_them() -> None:
    s = Scenario()
    s.read_timeline("ann", [1, 2])
    oracles = Oracles()
    found = [v for event in s.events for v in oracles.observe(event)]
    assert [v.kind for v in found] == ["timeline_order_violations"]
    assert oracles.report().timeline_order_violations == 1


def test_the_audit_plan_names_every_author_and_conversation_with_a_participant() -> None:
    s = Scenario()
    s.post("ann")
    s.dm("bob", "ann", seq=1)
    oracles = Oracles()
    for event in s.events:
        oracles.observe(event)
    plan = oracles.plan()
    assert plan.authors == {"ann": post_id_floor(s.events[0].time)}
    assert plan.conversations == {("ann", "bob"): "bob"}
    assert plan.readers == {"ann", "bob"}


def test_a_history_file_gives_the_same_verdict_and_ends_open_writes_as_unknown(
    tmp_path: Path,
) -> None:
    s, final = clean_run()
    path = tmp_path / "history.jsonl"
    write_history(path, s.events)
    assert counts(check(read_history(path), final)) == ZERO
    recorded = History(tmp_path / "live.jsonl")
    key = recorded.new_key()
    recorded.invoke("post", "ann", "1/1", {"key": key, "text": "t"})
    recorded.close()
    events = list(read_history(tmp_path / "live.jsonl"))
    assert [e.type for e in events] == ["invoke", "unknown"]
    assert check(events, FinalReads(posts={"ann": []})).writes["unknown"] == 1


def test_reports_of_several_workers_combine_into_one() -> None:
    s, final = clean_run()
    clean = s.check(final)
    bad = Scenario()
    bad.read_timeline("ann", [1, 2])
    bad.read_timeline("ann", [200], device="1/1")
    bad.tick(3)
    bad.read_timeline("ann", [100], device="1/2")
    dirty = bad.check(FinalReads())
    total = combine([clean, dirty])
    assert total.timeline_order_violations == 1
    assert total.max_staleness_s == dirty.max_staleness_s > 0
    assert total.writes["invoked"] == 5
    assert total.audited
    assert report_from_dict(total.to_dict()) == total
