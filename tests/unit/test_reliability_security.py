"""The pure parts of reliability checks 6 and 7: the ids a curious member tries, what counts as
a breach, and the bad tokens, each of which the services' own verification must refuse."""

import base64

import httpx
import orjson
import pytest

from reliability.checks.object_authorization import breached
from reliability.chirp_client import Member
from reliability.forged_tokens import (
    bad_service_credentials,
    bad_user_headers,
    tampered,
)
from reliability.intrusions import Intrusion, Loot, intrusions, neighbours
from services.common.auth import TokenKeys, User, issue_user_token, verify_service_token
from services.common.auth import verify_user_token as verify
from services.common.errors import Unauthorized

KEYS = TokenKeys("user-secret-" + "u" * 40, "internal-secret-" + "i" * 40)
ALICE = Member(3, "alice", "alice-token")
BOB = Member(5, "bob", "bob-token")
MALLORY = Member(9, "mallory", issue_user_token(KEYS, User(9, "mallory")))


def loot() -> Loot:
    return Loot([4096, 4100], ["3-9", "5-9"], ALICE, BOB, MALLORY.id)


def test_neighbours_alternate_around_a_value_and_stay_positive() -> None:
    assert neighbours(10, 4) == [11, 9, 12, 8]
    assert neighbours(1, 3) == [2, 3, 4]


def test_user_ids_and_the_private_conversation_come_from_harvested_conversation_ids() -> None:
    harvested = loot()
    assert (harvested.alice_id, harvested.bob_id) == (3, 5)
    assert harvested.private_conversation == "3-5"


def test_intrusions_tamper_with_harvested_and_guessed_posts_and_peek_at_conversations() -> None:
    tried = intrusions(loot(), guesses=2)
    paths = {(i.method, i.path) for i in tried}
    for post_id in (4096, 4100, 4101, 4099):
        assert ("DELETE", f"/v1/posts/{post_id}") in paths
    assert ("GET", "/v1/dms/3-5") in paths
    assert {i.source for i in tried} == {"harvested", "guessed"}
    assert all(i.forbidden for i in tried if i.path.startswith("/v1/posts"))


def answer(status: int, body: str) -> httpx.Response:
    return httpx.Response(status, text=body)


@pytest.mark.parametrize(
    ("forbidden", "status", "body", "breach"),
    [
        (True, 405, "method not allowed", False),
        (True, 204, "", True),  # deleted someone's post
        (False, 200, '{"items": []}', False),  # own, empty conversation
        (False, 200, '{"items": [{"conversation_id": "3-5"}]}', True),
        (False, 404, "no user '3-5'", False),  # a refusal echoing the path
        (False, 404, "secret-abc leaked in an error", True),
    ],
)
def test_a_breach_is_a_forbidden_2xx_or_anything_private_shown(
    forbidden: bool, status: int, body: str, breach: bool
) -> None:
    intrusion = Intrusion("probe", "guessed", "GET", "/v1/x", forbidden)
    assert breached(intrusion, answer(status, body), "secret-abc", loot()) is breach


def test_tampered_token_keeps_the_signature_and_changes_the_claims() -> None:
    token = tampered(MALLORY.token, sub="3")
    _, payload, signature = token.split(".")
    assert signature == MALLORY.token.split(".")[2]
    assert orjson.loads(base64.urlsafe_b64decode(payload + "=="))["sub"] == "3"


def test_every_bad_user_token_is_refused_by_the_services_own_check() -> None:
    victim = Member(3, "alice", issue_user_token(KEYS, User(3, "alice")))
    kinds = bad_user_headers(KEYS, victim, MALLORY)
    assert len(kinds) >= 12
    for kind, headers in kinds.items():
        value = headers.get("Authorization", "")
        if not value.startswith("Bearer ") or kind == "token without the Bearer scheme":
            continue  # refused by the scheme check, before any verification
        with pytest.raises(Unauthorized):
            verify(KEYS, value.removeprefix("Bearer "))


def test_every_bad_service_credential_is_refused_by_the_services_own_check() -> None:
    for credential in bad_service_credentials(KEYS, MALLORY).values():
        if credential is None:
            continue
        with pytest.raises(Unauthorized):
            verify_service_token(KEYS, credential)
