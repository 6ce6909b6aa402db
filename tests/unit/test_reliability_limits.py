"""The pure parts of reliability checks 3, 8 and 9: how answers are counted and judged, so
that each check can fail on what it measured."""

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from loadtest.vocabulary import percentile_or_nan as percentile
from reliability.abusive_clients import Exchange, Target, _status, chunked, request_head
from reliability.checks.api_schema import FuzzRun, config_file, verdict
from reliability.checks.idempotency import Tally
from reliability.checks.resource_limits import AbuseLog
from reliability.checks.resource_limits import verdict as limits_verdict
from reliability.chirp_client import eventually
from reliability.idempotent_writes import KeyedWrite, RaceResult
from reliability.schemathesis_hooks import fresh_key
from services.common.limits import IDEMPOTENCY_KEY_PATTERN


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 99) == 99.0
    assert percentile(values, 50) == 50.0
    assert percentile([7.0], 99) == 7.0


def test_eventually_reports_the_last_result_and_whether_it_held() -> None:
    calls = iter(range(100))
    assert eventually(lambda: next(calls), lambda n: n == 2, 5, 0) == (2, True)
    assert eventually(lambda: 0, lambda n: n == 1, 0.05, 0.01) == (0, False)


def ok_answer(post_id: int) -> httpx.Response:
    return httpx.Response(202, json={"id": post_id})


def test_keyed_write_keeps_every_answer_and_spots_a_changed_one() -> None:
    write = KeyedWrite("k", "text")
    for answer in (None, httpx.Response(409), ok_answer(7), ok_answer(7)):
        write.record(answer)
    assert write.statuses == ["timeout", 409, 202, 202]
    assert (write.acknowledged_id, write.consistent) == (7, True)
    write.record(ok_answer(8))
    assert not write.consistent


def passing_tally() -> Tally:
    tally = Tally(writes=[KeyedWrite("k", "t", [202, 202], [1, 1])])
    tally.other_body[422] = 1
    tally.races = [RaceResult("r", [201, 409, 201], written=1, refused=1, replayed=1,
                              posts_written=1)]  # fmt: skip
    tally.cross_user = 1
    return tally


def test_idempotency_tally_passes_only_when_nothing_went_wrong() -> None:
    assert passing_tally().passed()
    for spoil in ("duplicates", "lost", "inconsistent", "cross_user_leaks", "other_body_written"):
        tally = passing_tally()
        setattr(tally, spoil, 1)
        assert not tally.passed(), spoil
    tally = passing_tally()
    tally.other_body[201] = 1  # a reused key with another body written
    assert not tally.passed()
    tally = passing_tally()
    tally.races[0].posts_written = 2
    assert not tally.passed()
    tally = passing_tally()
    tally.writes.append(KeyedWrite("never", "t", ["timeout", 409]))  # never acknowledged
    assert not tally.passed()
    tally = passing_tally()
    tally.writes = [KeyedWrite("k", "t", [201], [1])]  # the pause never reached the outbox
    assert not tally.passed()
    assert "duplicates 0 of 1" in passing_tally().figure()


def test_status_line_parsing_and_chunked_framing() -> None:
    assert _status(b"HTTP/1.1 413 Request Entity Too Large\r\n") == 413
    assert _status(b"") is None
    assert chunked(b"abc") == b"3\r\nabc\r\n0\r\n\r\n"
    head = request_head(Target("127.0.0.1", 8080, "t"), "GET", "/v1/timeline")
    assert head.startswith(b"GET /v1/timeline HTTP/1.1\r\n") and head.endswith(b"\r\n\r\n")


def test_abuse_log_counts_unfitting_answers_5xx_and_no_answer() -> None:
    log = AbuseLog()
    log.file("big", Exchange(413, "answered", 0.1), {413})
    log.file("big", Exchange(500, "answered", 0.1), {413})
    log.file("slow", Exchange(None, "held", 5.0), {408})
    log.file("nested", Exchange(400, "answered", 0.1), {422})
    assert log.total == 4
    assert log.server_errors == 1
    assert log.unfitting == ["big: 500", "slow: held", "nested: 400"]


@pytest.mark.parametrize(("slowdown", "passes"), [(1.4, True), (1.6, False)])
def test_limits_verdict_holds_honest_p99_to_one_and_a_half_times(
    slowdown: float, passes: bool
) -> None:
    log = AbuseLog()
    log.file("big", Exchange(413, "answered", 0.1), {413})
    quiet = [0.01] * 100
    latencies = {"quiet": quiet, "abuse": [v * slowdown for v in quiet]}
    outcome = limits_verdict(latencies, {}, log)
    assert outcome.passed is passes
    assert f"({slowdown:.2f}x" in outcome.figure


def fuzz_run(**report: Any) -> FuzzRun:
    base: dict[str, Any] = {
        "failures": [],
        "errors": [],
        "test_cases": {"generated": 300},
        "operations": {"tested": 14},
        "phases": {p: {"status": "success"} for p in ("coverage", "fuzzing", "stateful")},
    }
    return FuzzRun(base | report, 0 if not report else 1, "")


def test_schema_verdict_fails_on_any_failure_error_or_a_stateful_phase_that_did_not_run() -> None:
    assert verdict(fuzz_run(), 7).passed
    failure = {"code": "ST103", "title": "Undocumented status code", "count": 2,
               "operations": ["POST /v1/sessions"]}  # fmt: skip
    failed = verdict(fuzz_run(failures=[failure]), 7)
    assert not failed.passed
    assert "failures 2" in failed.figure and "ST103" in failed.figure
    assert not verdict(fuzz_run(errors=["boom"]), 7).passed
    assert not verdict(fuzz_run(phases={"stateful": {"status": "skip"}}), 7).passed


def test_schemathesis_config_draws_existing_members_and_posts(tmp_path: Path) -> None:
    text = config_file(tmp_path, ["bob_1"], [42]).read_text()
    assert '"path.handle" = { dictionary = "members"' in text
    assert 'values = ["bob_1"]' in text and "values = [42]" in text


def test_fresh_key_replaces_valid_keys_only() -> None:
    fresh = fresh_key("0")
    assert fresh != "0" and re.fullmatch(IDEMPOTENCY_KEY_PATTERN, str(fresh))
    assert fresh_key("x" * 500) == "x" * 500
    assert fresh_key(" edge") == " edge"
