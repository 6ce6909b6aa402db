"""The load and shed answers: a device that is shed (503 /overloaded) honours Retry-After and
never sends the shed write again at once (it took no effect), while an outage's 503 is still
retried under the same key; the chaos figures count shed requests apart from errors."""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from chaos.observation import RequestRecord
from chaos.phases import stats_of
from loadtest.accounts import Account
from loadtest.devices import Device
from loadtest.history import Event, History
from loadtest.scoreboard import Scoreboard
from loadtest.shed import SHED, is_shed, retry_after_s

OVERLOADED = {"type": "https://failwhale.dev/problems/overloaded", "status": 503}
UNAVAILABLE = {"type": "https://failwhale.dev/problems/dependency-unavailable", "status": 503}


class Answered:
    """What Locust's catch_response gives: the answer, and how the device marked it."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
        self.status_code = status
        self.text = json.dumps(body)
        self.headers = headers
        self.marked: str | None = None

    def success(self) -> None:
        self.marked = "success"

    def failure(self, message: str) -> None:
        self.marked = message


class Session:
    """A stand-in for FastHttpSession that answers every request the same way."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
        self.answer = (status, body, headers)
        self.sent: list[Answered] = []

    @contextmanager
    def request(self, method: str, path: str, **_: Any) -> Iterator[Answered]:
        answered = Answered(*self.answer)
        self.sent.append(answered)
        yield answered


def device(session: Session) -> tuple[Device, list[Event]]:
    history = History()
    events: list[Event] = []
    history.subscribe(events.append)
    account = Account("ann", "password-of-ann")
    phone = Device("1/phone", session, account, history, Scoreboard())  # type: ignore[arg-type]
    phone.token = "t"
    return phone, events


def test_a_shed_read_is_marked_shed_and_the_device_holds_off_for_its_retry_after() -> None:
    session = Session(503, OVERLOADED, {"Retry-After": "2"})
    phone, _ = device(session)
    phone.read_timeline()
    (answered,) = session.sent
    assert answered.marked is not None and answered.marked.startswith(SHED)
    assert 1.5 < phone.backoff_s() <= 2.0


def test_a_shed_write_is_sent_once_and_recorded_as_not_applied() -> None:
    session = Session(503, OVERLOADED, {"Retry-After": "1"})
    phone, events = device(session)
    assert phone.post("hello") is None
    assert len(session.sent) == 1
    assert events[-1].type == "fail"


def test_an_outage_503_is_still_sent_again_under_the_same_key() -> None:
    session = Session(503, UNAVAILABLE, {"Retry-After": "1"})
    phone, events = device(session)
    phone.post("hello")
    assert len(session.sent) == 2
    assert events[-1].type == "unknown"
    assert phone.backoff_s() == 0
    assert session.sent[0].marked == "503"  # a failure, not a shed answer


@pytest.mark.parametrize(
    ("status", "body", "shed"),
    [
        (503, OVERLOADED, True),
        (503, UNAVAILABLE, False),
        (200, OVERLOADED, False),
        (503, None, False),
    ],
)
def test_only_a_503_overloaded_problem_is_shed(status: int, body: Any, shed: bool) -> None:
    assert is_shed(status, body) is shed


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [({"Retry-After": "3"}, 3.0), ({}, 1.0), ({"Retry-After": "soon"}, 1.0),
     ({"Retry-After": "3600"}, 30.0), (None, 1.0)],
)  # fmt: skip
def test_retry_after_is_read_in_seconds_with_a_default_and_a_cap(
    headers: dict[str, str] | None, seconds: float
) -> None:
    assert retry_after_s(headers) == seconds


def test_shed_requests_are_not_counted_as_errors() -> None:
    records = [
        RequestRecord(t=1.0, name="GET /v1/timeline", latency_ms=3.0, outcome=outcome)
        for outcome in ("ok", "ok", "shed", "shed", "error")
    ]
    stats = stats_of(records, length_s=5.0)
    assert stats.requests == 5
    assert stats.error_rate == pytest.approx(0.2)
