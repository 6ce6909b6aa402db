"""The pure parts of the load generator: what an answer says about a write, the open-loop arrival
schedule, the account pool, scoreboards added up across workers, the Resilience tab's rows and
the final audit reading back through a mock gateway."""

import json
import random
from pathlib import Path
from typing import Any

import httpx
import pytest

from loadtest.accounts import AccountPool
from loadtest.audit import run_audit
from loadtest.history import key_in, outcome_of, tagged
from loadtest.open_loop import Arrivals, rate_per_user
from loadtest.readback import AuditPlan, post_id_floor
from loadtest.scoreboard import RecentRate, Scoreboard, merge
from loadtest.webui import GatewayStatus, in_order, rows


@pytest.mark.parametrize(
    ("status", "outcome"),
    [(201, "ok"), (202, "ok"), (204, "ok"), (0, "unknown"), (500, "unknown"), (503, "unknown"),
     (504, "unknown"), (409, "unknown"), (408, "unknown"), (422, "fail"), (401, "fail"),
     (404, "fail"), (413, "fail")],
)  # fmt: skip
def test_a_timeout_or_dropped_connection_is_unknown_never_a_failure(
    status: int, outcome: str
) -> None:
    assert outcome_of(status) == outcome


def test_a_write_carries_its_key_in_its_text() -> None:
    assert key_in(tagged("hello #chirp", "ab12.7")) == "ab12.7"
    assert key_in("no key here") is None


def test_open_loop_arrivals_keep_their_schedule_however_late_the_last_one_was() -> None:
    arrivals = Arrivals(rate=4.0, start=100.0, rng=random.Random(1))
    first = arrivals.next_due
    assert 100.0 <= first < 100.25
    assert arrivals.wait(100.0) == pytest.approx(first - 100.0)
    # the system stalled for two seconds: the next arrivals are due at once, not later
    assert arrivals.wait(102.0) == 0.0
    assert arrivals.next_due == pytest.approx(first + 0.5)
    assert arrivals.wait(first + 0.4) == pytest.approx(0.1)
    with pytest.raises(ValueError):
        Arrivals(rate=0, start=0)
    assert rate_per_user(50, 20) == 2.5
    assert rate_per_user(50, None) == 50


def test_registered_accounts_are_new_and_buddies_are_neighbours() -> None:
    pool = AccountPool()
    first, second, third = pool.claim(), pool.claim(), pool.claim()
    assert (first, second, third) == (0, 1, 2)
    assert pool[0].handle != pool[1].handle
    assert pool[0].handle.startswith(pool.prefix)
    assert pool.buddy(0) is None  # not signed in yet
    pool[1].ready = True
    assert pool.buddy(0) is pool[1]
    assert pool.buddy(2) is None  # position 3 does not exist
    assert pool.others(0, random.Random(1), 5) == [pool[1]]
    pool[1].token = "t1"
    assert pool.tokens() == {pool[1].handle: "t1"}


def test_seeded_accounts_are_taken_in_turn_from_the_offset(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    accounts = [{"handle": f"u{i}", "password": "pw-pw-pw-pw", "token": "old"} for i in range(3)]
    seed.write_text(json.dumps({"accounts": accounts, "follows": []}))
    pool = AccountPool.from_seed_file(seed, offset=2)
    assert [pool[pool.claim()].handle for _ in range(4)] == ["u2", "u0", "u1", "u2"]
    assert pool.buddy(0) is pool[1]
    assert pool.tokens() == {}  # seed tokens may have expired: devices log in


def test_scoreboards_of_workers_add_up() -> None:
    one, two = Scoreboard(started=10.0), Scoreboard(started=12.0)
    one.answered("GET /v1/timeline", [])
    one.answered("GET /v1/timeline", ["timeline=fanout-on-read"])
    two.answered("GET /v1/timeline", ["timeline=stale-cache"])
    two.answered("POST /v1/posts", ["posts=outbox"])
    two.dropped_arrivals = 3
    one.oracles.lost_writes = 1
    two.oracles.max_staleness_s = 2.5
    total = merge([one.snapshot(), two.snapshot()])
    assert total["answers"] == {"GET /v1/timeline": 3, "POST /v1/posts": 1}
    assert total["degraded"] == {"GET /v1/timeline": 2, "POST /v1/posts": 1}
    assert total["reasons"]["posts=outbox"] == 1
    assert total["dropped_arrivals"] == 3
    assert total["oracles"]["lost_writes"] == 1
    assert total["oracles"]["max_staleness_s"] == 2.5
    assert total["oracles"]["violations"] == 1
    assert total["started"] == 10.0
    assert merge([])["answers"] == {}


def test_the_recent_degraded_rate_looks_at_the_last_seconds_only() -> None:
    rate = RecentRate(window_s=10)
    assert rate.update(0, 0, 0) is None
    assert rate.update(5, 100, 50) == 0.5
    assert rate.update(16, 200, 50) == pytest.approx(0.0)  # the first point left the window
    assert rate.update(17, 10, 0) is None  # counts went down: a new run


STATUS = {
    "resilience": "on",
    "window_s": 30.0,
    "dependencies": [
        {"name": "timeline-1", "breaker": "open", "error_rate": 1.0, "calls": 9, "degraded": True},
        {"name": "posts", "breaker": "closed", "error_rate": 0.0, "calls": 4, "degraded": False},
    ],
    "outbox_depth": {"posts": 2, "dms": None},
}


def test_the_tab_shows_breakers_outboxes_degraded_answers_and_oracles() -> None:
    board = Scoreboard()
    board.answered("GET /v1/timeline", [])
    board.answered("GET /v1/timeline", ["timeline=fanout-on-read"])
    board.oracles.dm_order_violations = 2
    board.oracles.examples = {"dm_order_violations": ["conversation a/b: gap"]}
    table = rows(board.snapshot(), STATUS, None, {"timeline-1": ("open", 90.0)}, 0.25, 100.0)
    by_name = {(r["what"], r["item"]): r for r in table}
    assert by_name[("breaker", "timeline-1")]["value"] == "OPEN"
    assert by_name[("breaker", "timeline-1")]["detail"].startswith("for 10 s; 100.0% errors")
    assert by_name[("breaker", "posts")]["value"] == "closed"
    assert by_name[("outbox", "posts")]["value"] == "2"
    assert by_name[("outbox", "dms")]["value"] == "?"
    assert by_name[("degraded", "all answers")]["value"] == "50.0%"
    assert by_name[("degraded", "all answers")]["detail"] == "1 of 2; last 10 s: 25.0%"
    assert by_name[("degraded", "GET /v1/timeline")]["value"] == "50.0%"
    assert by_name[("degraded", "reason timeline=fanout-on-read")]["value"] == "1"
    assert by_name[("oracle", "dm_order_violations")]["value"] == "2"
    assert by_name[("oracle", "dm_order_violations")]["detail"] == "conversation a/b: gap"
    assert by_name[("oracle", "lost_writes")]["value"] == "0"
    assert by_name[("oracle", "final audit")]["value"] == "not run"
    assert all(set(r) == {"what", "item", "value", "detail"} for r in table)
    ordered = in_order(table)
    assert [r["name"] for r in ordered] == sorted(r["name"] for r in ordered)
    assert [r["item"] for r in ordered] == [r["item"] for r in table]


def test_the_tab_says_when_the_gateway_does_not_answer() -> None:
    status = GatewayStatus(lambda: "http://127.0.0.1:9", clock=lambda: 0.0)
    assert status.get() is None
    assert status.error is not None and "/v1/status" in status.error
    table = rows(Scoreboard().snapshot(), None, status.error, {}, None, 0.0)
    assert table[0]["value"] == "unreachable"


class FakeGateway:
    """Answers the audit's reads like a gateway would, from lists of posts and messages."""

    def __init__(self) -> None:
        self.depths = [3, 0]
        self.posts: dict[str, list[dict[str, Any]]] = {}
        self.messages: list[dict[str, Any]] = []
        self.degraded_once = True

    def handle(self, request: httpx.Request) -> httpx.Response:
        path, params = request.url.path, request.url.params
        if path == "/v1/status":
            depth = self.depths.pop(0) if len(self.depths) > 1 else self.depths[0]
            return httpx.Response(200, json={"outbox_depth": {"posts": depth, "dms": 0}})
        if path.startswith("/v1/users/"):
            author = path.split("/")[3]
            limit, before = int(params["limit"]), int(params.get("before", 10**18))
            older = [p for p in self.posts.get(author, []) if p["id"] < before]
            page = older[:limit]
            more = page[-1]["id"] if len(older) > limit else None
            return httpx.Response(200, json={"items": page, "next": more})
        if path.startswith("/v1/dms/"):
            if request.headers["authorization"] != "Bearer ann-token":
                return httpx.Response(401, json={"title": "Unauthorized"})
            if self.degraded_once:
                self.degraded_once = False
                return httpx.Response(200, json={"items": []}, headers={"X-Degraded": "dms=x"})
            after, limit = int(params["after_seq"]), int(params["limit"])
            page = [m for m in self.messages if m["seq"] > after][:limit]
            return httpx.Response(200, json={"items": page})
        return httpx.Response(404)


def test_the_audit_waits_for_outboxes_then_reads_every_page_back() -> None:
    gateway = FakeGateway()
    floor_time = 1_800_000_000.0
    ids = [post_id_floor(floor_time + 60) + i for i in range(150, 0, -1)]
    gateway.posts["ann"] = [{"id": i, "text": tagged("p", f"k.{i}")} for i in ids]
    gateway.messages = [{"seq": s, "text": tagged("m", f"d.{s}")} for s in range(1, 131)]
    plan = AuditPlan(
        authors={"ann": post_id_floor(floor_time + 60)},
        conversations={("ann", "bob"): "ann"},
    )
    final = run_audit(
        "http://gateway",
        plan,
        {"ann": "ann-token"},
        drain_timeout_s=5,
        read_timeout_s=5,
        transport=httpx.MockTransport(gateway.handle),
    )
    assert final.outbox_drained
    assert [post_id for post_id, _ in final.posts["ann"]] == ids
    assert final.posts["ann"][0][1] == f"k.{ids[0]}"
    assert [seq for seq, _ in final.conversations[("ann", "bob")]] == list(range(1, 131))
    assert final.unreadable == []


def test_what_the_audit_cannot_read_is_unreadable_and_outboxes_may_stay_full() -> None:
    gateway = FakeGateway()
    gateway.depths = [5]
    plan = AuditPlan(authors={}, conversations={("ann", "bob"): "bob"})
    final = run_audit(
        "http://gateway",
        plan,
        {"ann": "ann-token"},  # bob's token is missing: his reads are refused
        drain_timeout_s=0.3,
        read_timeout_s=0.3,
        transport=httpx.MockTransport(gateway.handle),
    )
    assert not final.outbox_drained
    assert final.unreadable == ["conversation ann/bob"]


def test_a_run_into_a_used_folder_counts_only_its_own_requests(tmp_path: Path) -> None:
    from chaos.load import LoadFiles, read_requests

    files = LoadFiles(tmp_path / "run")
    files.folder.mkdir()
    earlier = {"t": 100.0, "name": "GET /v1/timeline", "latency_ms": 5.0, "outcome": "ok"}
    files.requests.write_text(json.dumps(earlier) + "\n")
    files.history.write_text("{}\n")
    assert len(read_requests(files, run_started_at=0.0)) == 1

    files.fresh()

    assert read_requests(files, run_started_at=0.0) == []
    assert not files.history.exists()
    assert files.folder.is_dir()
