"""How the reliability checks word an audit of their write load (checks 1, 2, 4, 5)."""

from loadtest.oracles import OracleReport
from reliability.write_load import audit_gaps, write_counts


def test_an_audit_that_drained_and_read_everything_back_has_no_gap() -> None:
    report = OracleReport(audit={"read_back": 3, "unverified": 0, "outbox_drained": True})
    assert audit_gaps(report) == []


def test_an_outbox_not_drained_and_unreadable_writes_are_gaps() -> None:
    report = OracleReport(audit={"read_back": 3, "unverified": 2, "outbox_drained": False})
    assert audit_gaps(report) == [
        "the gateway's outboxes did not drain before the read-back",
        "2 acknowledged writes could not be read back",
    ]


def test_write_counts_say_acknowledged_queued_and_unknown() -> None:
    report = OracleReport(writes={"invoked": 9, "ok": 7, "accepted": 3, "unknown": 2})
    assert write_counts(report) == "7 acknowledged (3 answered 202), 2 unknown"
