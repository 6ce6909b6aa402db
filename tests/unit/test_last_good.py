"""The gateway's last good answers: bounded in bytes, canonical pages only, and a conversation's
tail served to a polling reader whose `after_seq` moved on (in process, services faked)."""

from collections.abc import Callable

import httpx
import pytest

from services.common.auth import TokenKeys, User, issue_user_token
from services.common.memory_cache import ENTRY_OVERHEAD_BYTES, LastGood
from services.gateway.dm_tails import TAIL_MESSAGES, Run, Tail, merged, run_of_answer
from services.gateway.settings import GatewaySettings
from tests.unit import test_gateway

pytestmark = pytest.mark.anyio

# The in-process gateway of test_gateway, with its faked services and a small answer store.
FakeServices = test_gateway.FakeServices
gateway = test_gateway.gateway
services = test_gateway.services
alice = test_gateway.alice
STORE_BYTES = 64 * 1024
DOWN: Callable[[httpx.Request], httpx.Response] = lambda r: httpx.Response(503)  # noqa: E731


@pytest.fixture
def settings(keys: TokenKeys) -> GatewaySettings:
    return GatewaySettings(
        token_secret=keys.user_secret,
        internal_secret=keys.internal_secret,
        last_good_bytes=STORE_BYTES,
    )


def post(post_id: int, text: str = "x") -> dict[str, object]:
    return {"id": post_id, "author": "bob", "text": text, "created_at": "2026-01-01T00:00:00Z"}


def message(seq: int) -> dict[str, object]:
    return {
        "conversation_id": "1:2",
        "seq": seq,
        "sender": "bob",
        "text": f"m{seq}",
        "sent_at": "2026-01-01T00:00:00Z",
    }


class Conversation:
    """dms for one conversation of `count` messages, answering `after_seq` and `limit`."""

    def __init__(self, count: int) -> None:
        self.count = count

    def __call__(self, request: httpx.Request) -> httpx.Response:
        after = int(request.url.params["after_seq"])
        limit = int(request.url.params["limit"])
        seqs = range(after + 1, min(self.count, after + limit) + 1)
        return httpx.Response(200, json={"items": [message(s) for s in seqs]})


def test_the_store_is_bounded_by_the_bytes_of_its_values() -> None:
    store: LastGood[int, bytes] = LastGood(10_000, len)
    for key in range(1_000):
        store.put(key, b"x" * 1_000)
    assert store.bytes <= 10_000
    assert len(store) == 10_000 // (1_000 + ENTRY_OVERHEAD_BYTES)
    assert store.get(999) is not None and store.get(0) is None
    store.put(5_000, b"x" * 20_000)  # heavier than the whole budget: not kept, nothing evicted
    assert store.get(5_000) is None and store.get(999) is not None


async def test_remembered_posts_stay_within_the_byte_budget(
    gateway: httpx.AsyncClient, services: FakeServices, alice: dict[str, str]
) -> None:
    text = "y" * 1_000
    services.answers["posts"] = lambda r: httpx.Response(
        200, json=post(int(r.url.path.rsplit("/", 1)[1]), text)
    )
    for post_id in range(1, 301):  # 300 answers of about 1.1 kB: about 5x the budget
        assert (await gateway.get(f"/v1/posts/{post_id}", headers=alice)).status_code == 200
    services.answers["posts"] = DOWN
    newest = await gateway.get("/v1/posts/300", headers=alice)
    assert newest.status_code == 200 and newest.headers["x-degraded"] == "posts=cached"
    oldest = await gateway.get("/v1/posts/1", headers=alice)
    assert oldest.status_code == 503  # pushed out by the budget, not kept for ever


async def test_pages_further_down_are_not_remembered_only_the_first(
    gateway: httpx.AsyncClient, services: FakeServices, alice: dict[str, str]
) -> None:
    def timeline(request: httpx.Request) -> httpx.Response:
        before = int(request.url.params.get("before", 1_000))
        return httpx.Response(200, json={"items": [post(before - 1)], "next": before - 1})

    services.answers["timeline-1"] = services.answers["timeline-2"] = timeline
    assert (await gateway.get("/v1/timeline", headers=alice)).status_code == 200
    for before in range(2, 502):  # a client making up cursors
        page = await gateway.get(f"/v1/timeline?before={before}", headers=alice)
        assert page.status_code == 200
    services.answers["timeline-1"] = services.answers["timeline-2"] = DOWN
    services.answers["users"] = services.answers["posts"] = DOWN  # no fan-out on read either
    assert (await gateway.get("/v1/timeline?before=300", headers=alice)).status_code == 503
    first = await gateway.get("/v1/timeline", headers=alice)
    assert first.status_code == 200
    assert first.headers["x-degraded"] == "timeline=stale-cache"
    assert first.json()["items"] == [post(999)]


async def test_a_remembered_first_page_is_cut_to_the_limit_asked(
    gateway: httpx.AsyncClient, services: FakeServices, alice: dict[str, str]
) -> None:
    page = {"items": [post(i) for i in (9, 8, 7, 6)], "next": 6}
    services.answers["posts"] = lambda r: httpx.Response(200, json=page)
    assert (await gateway.get("/v1/users/bob/posts?limit=4", headers=alice)).status_code == 200
    services.answers["posts"] = DOWN
    cut = await gateway.get("/v1/users/bob/posts?limit=2", headers=alice)
    assert cut.headers["x-degraded"] == "posts=stale-cache"
    assert cut.json() == {"items": [post(9), post(8)], "next": 8, "degraded": ["posts=stale-cache"]}
    longer = await gateway.get("/v1/users/bob/posts?limit=50", headers=alice)
    assert longer.json()["items"] == page["items"] and longer.json()["next"] == 6


async def test_a_polling_reader_keeps_reading_the_tail_while_dms_is_away(
    gateway: httpx.AsyncClient, services: FakeServices, alice: dict[str, str]
) -> None:
    conversation = Conversation(3)
    services.answers["dms"] = conversation
    assert len((await gateway.get("/v1/dms/bob?after_seq=0", headers=alice)).json()["items"]) == 3
    conversation.count = 5
    assert len((await gateway.get("/v1/dms/bob?after_seq=3", headers=alice)).json()["items"]) == 2
    services.answers["dms"] = DOWN
    # The reader's cursor moved on to 5: a query the gateway never saw.
    poll = await gateway.get("/v1/dms/bob?after_seq=5", headers=alice)
    assert poll.status_code == 200
    assert poll.headers["x-degraded"] == "dms=stale-cache"
    assert poll.json() == {"items": [], "degraded": ["dms=stale-cache"]}
    middle = await gateway.get("/v1/dms/bob?after_seq=1&limit=3", headers=alice)
    assert [m["seq"] for m in middle.json()["items"]] == [2, 3, 4]
    assert middle.json()["items"][0] == message(2)


async def test_a_read_before_the_kept_tail_gets_no_made_up_answer(
    gateway: httpx.AsyncClient, services: FakeServices, alice: dict[str, str]
) -> None:
    services.answers["dms"] = Conversation(10)
    assert (await gateway.get("/v1/dms/bob?after_seq=6", headers=alice)).status_code == 200
    services.answers["dms"] = DOWN
    assert (await gateway.get("/v1/dms/bob?after_seq=6", headers=alice)).status_code == 200
    assert (await gateway.get("/v1/dms/bob?after_seq=5", headers=alice)).status_code == 503


async def test_the_two_participants_share_the_tail(
    gateway: httpx.AsyncClient, services: FakeServices, alice: dict[str, str], keys: TokenKeys
) -> None:
    services.answers["users"] = lambda r: httpx.Response(
        200, json={"id": 1, "handle": "alice"} if r.url.path.endswith("/alice") else {"id": 2}
    )
    bob = {"Authorization": "Bearer " + issue_user_token(keys, User(2, "bob"))}
    services.answers["dms"] = Conversation(4)
    assert (await gateway.get("/v1/dms/alice?after_seq=0", headers=bob)).status_code == 200
    services.answers["dms"] = DOWN
    read = await gateway.get("/v1/dms/bob?after_seq=2", headers=alice)
    assert read.status_code == 200 and read.headers["x-degraded"] == "dms=stale-cache"
    assert [m["seq"] for m in read.json()["items"]] == [3, 4]
    carol = {"Authorization": "Bearer " + issue_user_token(keys, User(3, "carol"))}
    assert (await gateway.get("/v1/dms/alice?after_seq=2", headers=carol)).status_code == 503


async def test_messages_sent_through_the_gateway_start_the_tail(
    gateway: httpx.AsyncClient, services: FakeServices, alice: dict[str, str]
) -> None:
    sent = iter(range(1, 10))
    services.answers["dms"] = lambda r: httpx.Response(201, json=message(next(sent)))
    for text in ("one", "two"):
        answer = await gateway.post("/v1/dms/bob", json={"text": text}, headers=alice)
        assert answer.status_code == 201
    services.answers["dms"] = DOWN
    read = await gateway.get("/v1/dms/bob?after_seq=0", headers=alice)  # never read before
    assert read.status_code == 200 and read.headers["x-degraded"] == "dms=stale-cache"
    assert read.json()["items"] == [message(1), message(2)]


def run(start: int, end: int) -> Run:
    content = httpx.Response(200, json={"items": [message(s) for s in range(start + 1, end + 1)]})
    made = run_of_answer(start, content.content)
    assert made is not None
    return made


def spans(tail: Tail) -> list[tuple[int, int]]:
    return [(r.start, r.end) for r in tail.runs]


def test_runs_that_touch_or_overlap_merge_into_one() -> None:
    assert spans(merged(Tail((run(0, 5),)), run(5, 8))) == [(0, 8)]
    assert spans(merged(Tail((run(3, 8),)), run(0, 4))) == [(0, 8)]
    assert spans(merged(Tail((run(0, 8),)), run(2, 4))) == [(0, 8)]
    assert spans(merged(Tail((run(0, 5), run(9, 12))), run(5, 9))) == [(0, 12)]


def test_runs_apart_stay_apart_and_no_gap_is_bridged() -> None:
    tail = merged(Tail((run(0, 3),)), run(10, 12))
    assert spans(tail) == [(0, 3), (10, 12)]
    assert [m["seq"] for m in tail.after(1, 50) or []] == [2, 3]  # stops where the run does
    assert [m["seq"] for m in tail.after(10, 50) or []] == [11, 12]
    assert tail.after(5, 50) is None  # 4..10 exist, the gateway holds none of them
    assert tail.after(12, 50) == [] and tail.after(40, 50) == []  # nothing newer held
    assert spans(merged(Tail((run(0, 5),)), run(9, 9))) == [(0, 5)]  # an empty answer adds nothing
    assert spans(merged(None, run(0, 0))) == [(0, 0)]  # an empty conversation is known empty


def test_a_tail_keeps_only_its_newest_messages() -> None:
    long = merged(Tail((run(0, TAIL_MESSAGES),)), run(TAIL_MESSAGES, TAIL_MESSAGES + 50))
    assert spans(long) == [(50, TAIL_MESSAGES + 50)]
    assert long.after(49, 10) is None
    assert [m["seq"] for m in long.after(50, 2) or []] == [51, 52]
    apart = merged(Tail((run(0, 60),)), run(100, 100 + TAIL_MESSAGES - 10))
    assert spans(apart) == [(50, 60), (100, 100 + TAIL_MESSAGES - 10)]


def test_an_answer_with_a_gap_is_not_kept() -> None:
    gapped = httpx.Response(200, json={"items": [message(1), message(3)]})
    assert run_of_answer(0, gapped.content) is None
