"""Direct messages: per-conversation sequence numbers without gaps, reading after a seq, and
no way to read anyone else's conversation."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from stack.layout import LocalLayout
from tests.integration.chirp import Member, sign_up
from tests.unit.problems import assert_problem

pytestmark = pytest.mark.integration


def send(api: httpx.Client, sender: Member, to: Member, text: str) -> dict[str, object]:
    answer = api.post(f"/v1/dms/{to.handle}", json={"text": text}, headers=sender.auth)
    assert answer.status_code == 201, answer.text
    body: dict[str, object] = answer.json()
    return body


def read(api: httpx.Client, reader: Member, peer: Member, **params: int) -> list[dict[str, object]]:
    answer = api.get(f"/v1/dms/{peer.handle}", params=params, headers=reader.auth)
    assert answer.status_code == 200, answer.text
    assert set(answer.json()) == {"items"}
    items: list[dict[str, object]] = answer.json()["items"]
    return items


@pytest.fixture
def pair(api: httpx.Client) -> tuple[Member, Member]:
    return sign_up(api, "dm_a"), sign_up(api, "dm_b")


def test_sent_message_answers_201_with_conversation_seq_sender_text_and_time(
    api: httpx.Client, pair: tuple[Member, Member]
) -> None:
    alice, bob = pair
    answer = api.post(f"/v1/dms/{bob.handle}", json={"text": "hi bob"}, headers=alice.auth)
    assert answer.status_code == 201
    body = answer.json()
    assert set(body) == {"conversation_id", "seq", "sender", "text", "sent_at"}
    assert (body["seq"], body["sender"], body["text"]) == (1, alice.handle, "hi bob")
    sent_at = datetime.fromisoformat(body["sent_at"])
    assert abs(datetime.now(UTC) - sent_at) < timedelta(seconds=5)


def test_both_sides_write_one_conversation_numbered_1_2_3(
    api: httpx.Client, pair: tuple[Member, Member]
) -> None:
    alice, bob = pair
    sent = [
        send(api, alice, bob, "one"),
        send(api, bob, alice, "two"),
        send(api, alice, bob, "three"),
    ]
    assert [m["seq"] for m in sent] == [1, 2, 3]
    assert len({m["conversation_id"] for m in sent}) == 1
    assert read(api, alice, bob) == sent
    assert read(api, bob, alice) == sent


def test_each_conversation_counts_from_1(api: httpx.Client) -> None:
    alice, bob, carol = sign_up(api), sign_up(api), sign_up(api)
    to_bob = send(api, alice, bob, "to bob")
    to_carol = send(api, alice, carol, "to carol")
    assert (to_bob["seq"], to_carol["seq"]) == (1, 1)
    assert to_bob["conversation_id"] != to_carol["conversation_id"]


def test_concurrent_sends_from_both_sides_get_every_seq_once(
    api: httpx.Client, layout: LocalLayout, pair: tuple[Member, Member]
) -> None:
    alice, bob = pair
    jobs = [(alice, bob, f"a{i}") if i % 2 else (bob, alice, f"b{i}") for i in range(50)]

    def send_one(job: tuple[Member, Member, str]) -> dict[str, object]:
        sender, to, text = job
        with httpx.Client(base_url=layout.gateway_url, timeout=10) as own:
            return send(own, sender, to, text)

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(send_one, jobs))
    assert sorted(int(str(a["seq"])) for a in answers) == list(range(1, 51))
    stored = read(api, alice, bob, limit=100)
    assert [m["seq"] for m in stored] == list(range(1, 51))
    # What each sender was told is what is stored under that seq.
    by_seq = {m["seq"]: m for m in stored}
    for answer in answers:
        assert by_seq[answer["seq"]] == answer


def test_after_seq_reads_only_later_messages(
    api: httpx.Client, pair: tuple[Member, Member]
) -> None:
    alice, bob = pair
    for i in range(5):
        send(api, alice, bob, f"m{i}")
    assert [m["seq"] for m in read(api, bob, alice, after_seq=3)] == [4, 5]
    assert read(api, bob, alice, after_seq=5) == []
    assert [m["seq"] for m in read(api, bob, alice, after_seq=0)] == [1, 2, 3, 4, 5]


def test_limit_caps_the_page_in_seq_order(api: httpx.Client, pair: tuple[Member, Member]) -> None:
    alice, bob = pair
    for i in range(25):
        send(api, alice, bob, f"m{i}")
    assert [m["seq"] for m in read(api, bob, alice)] == list(range(1, 21))  # default 20
    assert [m["seq"] for m in read(api, bob, alice, limit=3)] == [1, 2, 3]
    assert [m["seq"] for m in read(api, bob, alice, after_seq=20, limit=3)] == [21, 22, 23]


def test_empty_conversation_reads_as_no_items(
    api: httpx.Client, pair: tuple[Member, Member]
) -> None:
    alice, bob = pair
    assert read(api, alice, bob) == []


def test_third_member_asking_for_a_handle_gets_only_their_own_conversation(
    api: httpx.Client, pair: tuple[Member, Member]
) -> None:
    alice, bob = pair
    mallory = sign_up(api, "mallory")
    private = send(api, alice, bob, "secret between alice and bob")
    send(api, bob, alice, "another secret")
    assert read(api, mallory, alice) == []
    assert read(api, mallory, bob) == []
    mine = send(api, mallory, alice, "hello alice")
    assert mine["seq"] == 1
    assert mine["conversation_id"] != private["conversation_id"]
    assert read(api, mallory, alice) == [mine]
    # Alice sees both conversations, each on its own.
    assert read(api, alice, mallory) == [mine]
    assert [m["text"] for m in read(api, alice, bob)] == [
        "secret between alice and bob",
        "another secret",
    ]


def test_messaging_yourself_is_a_422_problem(
    api: httpx.Client, pair: tuple[Member, Member]
) -> None:
    alice, _ = pair
    answer = api.post(f"/v1/dms/{alice.handle}", json={"text": "me"}, headers=alice.auth)
    assert_problem(answer, 422)
    assert read(api, alice, alice) == []


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_dms_with_an_unknown_handle_are_a_404_problem(api: httpx.Client, method: str) -> None:
    alice = sign_up(api)
    body = {"text": "anyone there?"} if method == "POST" else None
    answer = api.request(method, "/v1/dms/nobody_by_that_name", json=body, headers=alice.auth)
    assert_problem(answer, 404, "not-found")


def test_longest_dm_is_stored_whole(api: httpx.Client, pair: tuple[Member, Member]) -> None:
    alice, bob = pair
    text = "é" * 1000
    assert send(api, alice, bob, text)["text"] == text
    assert read(api, bob, alice)[0]["text"] == text
