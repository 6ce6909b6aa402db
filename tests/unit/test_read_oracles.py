"""The correctness oracles on made-up histories, reads: pages newest first, a device reading back
its own writes, and the two measures that are never violations (cross-device staleness and home
timeline visibility)."""

import pytest

from tests.unit.histories import ZERO, Scenario, counts


def test_home_timeline_pages_must_be_newest_first_and_older_than_before() -> None:
    s = Scenario()
    s.read_timeline("ann", [9, 7, 8])  # inverted
    s.read_timeline("ann", [9, 9, 8])  # the same post twice
    s.read_timeline("ann", [12, 11], before=10)  # not older than `before`
    s.read_timeline("ann", [9, 8, 7])
    s.read_timeline("ann", [])
    s.read_posts("ann", "bob", [(3, None), (4, None)])  # user pages too
    report = s.check()
    assert counts(report) == ZERO | {"timeline_order_violations": 4}


def test_a_device_must_read_back_the_post_it_just_created() -> None:
    s = Scenario()
    older_key, older = s.post("ann", device="1/1")
    _, post_id = s.post("ann", device="1/1")
    s.read_posts("ann", "ann", [(older, older_key)], device="1/1")
    report = s.check()
    assert counts(report) == ZERO | {"read_your_writes_violations": 1}
    assert f"post {post_id} created" in report.examples["read_your_writes_violations"][0]


def test_read_your_writes_does_not_apply_to_other_devices_degraded_answers_or_queued_posts() -> (
    None
):
    s = Scenario()
    s.post("ann", device="1/1")
    s.read_posts("ann", "ann", [], device="1/2")  # the other device: staleness, not a violation
    s.read_posts("ann", "ann", [], device="1/1", degraded=True)  # a flagged stale answer
    s.post("ann", device="1/2", status=202)
    s.read_posts("bob", "ann", [], device="2/1")  # someone else
    assert counts(s.check()) == ZERO


def test_read_your_writes_only_covers_the_range_a_page_shows() -> None:
    s = Scenario()
    old_key, old = s.post("ann")
    newer = [(old + 1000 * i, f"other.{i}") for i in range(20, 0, -1)]
    s.read_posts("ann", "ann", newer, next_id=newer[-1][0])  # the post is on a later page
    s.read_posts("ann", "ann", [(old, old_key)], before=newer[-1][0])
    assert counts(s.check()) == ZERO


def test_a_read_sent_before_the_write_was_acknowledged_need_not_show_it() -> None:
    s = Scenario()
    key = s.history.new_key()
    write = s.history.invoke("post", "ann", "1/1", {"key": key, "text": "t"})
    read = s.history.invoke("read_posts", "ann", "1/1", {"author": "ann", "limit": 20})
    s.tick()
    s.history.complete(write, "ok", {"status": 201, "id": s.post_id()})
    s.tick()
    s.history.complete(read, "ok", {"status": 200, "items": [], "next": None})
    assert counts(s.check()) == ZERO


def test_a_device_must_read_back_the_dm_it_just_sent() -> None:
    s = Scenario()
    d1 = s.dm("ann", "bob", seq=1, device="1/1")
    s.dm("ann", "bob", seq=2, device="1/1")
    s.read_dms("ann", "bob", 0, [(1, d1)], device="1/1")  # seq 2 missing
    s.read_dms("ann", "bob", 0, [(1, d1)], device="1/2")  # other device: not a violation
    s.read_dms("ann", "bob", 0, [(1, d1)], device="1/1", limit=1)  # full page: 2 not covered
    report = s.check()
    assert counts(report) == ZERO | {"read_your_writes_violations": 1}


def test_staleness_is_how_long_the_other_device_had_seen_something_newer() -> None:
    s = Scenario()
    s.read_timeline("ann", [200, 100], device="1/1")
    s.tick(2.0)
    s.read_timeline("ann", [100], device="1/2")  # 2 s behind the first device
    s.read_timeline("ann", [200, 100], device="1/2")
    report = s.check()
    assert counts(report) == ZERO
    assert report.max_staleness_s == pytest.approx(2.01, abs=0.001)
    assert report.stale_reads == 1


def test_a_follow_resets_staleness_and_full_dm_pages_are_not_measured() -> None:
    s = Scenario()
    s.read_timeline("ann", [200], device="1/1")
    s.follow("ann", "carl", device="1/1")
    s.tick(5.0)
    s.read_timeline("ann", [100], device="1/2")
    s.read_dms("ann", "bob", 0, [(1, "x.1"), (2, "x.2")], device="1/1", limit=5)
    s.tick(5.0)
    s.read_dms("ann", "bob", 0, [(1, "x.1")], device="1/2", limit=1)
    report = s.check()
    assert report.max_staleness_s == 0.0
    s.read_dms("ann", "bob", 0, [(1, "x.1")], device="1/2", limit=5)
    assert s.check().max_staleness_s == pytest.approx(5.03, abs=0.001)


def test_visibility_is_the_delay_from_acknowledgement_to_a_home_timeline() -> None:
    s = Scenario()
    _, p1 = s.post("ann")
    _, p2 = s.post("ann")
    s.tick(0.5)
    s.read_timeline("bob", [p2, p1], device="2/1", took=0.25)
    report = s.check()
    assert report.visibility["posts"] == 2
    assert report.visibility["max_s"] == pytest.approx(0.78, abs=0.001)
