"""Accounts through the gateway: sign-up, log-in, wrong passwords and their lockout."""

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import redis.asyncio as aioredis

from services.common.auth import TokenKeys, User, verify_user_token
from services.users.settings import UsersSettings
from services.users.store import UserStore
from stack.layout import LocalLayout
from tests.integration.chirp import PASSWORD, new_handle, sign_up
from tests.unit.problems import assert_problem

pytestmark = pytest.mark.integration


def test_sign_up_answers_201_with_id_handle_and_a_working_token(
    api: httpx.Client, token_keys: TokenKeys
) -> None:
    handle = new_handle()
    answer = api.post("/v1/users", json={"handle": handle, "password": PASSWORD})
    assert answer.status_code == 201
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert set(body) == {"id", "handle", "token", "device"}
    assert body["handle"] == handle
    assert isinstance(body["id"], int) and body["id"] > 0
    assert verify_user_token(token_keys, body["token"]) == User(body["id"], handle)
    timeline = api.get("/v1/timeline", headers={"Authorization": f"Bearer {body['token']}"})
    assert timeline.json() == {"items": [], "next": None}


def test_each_member_gets_their_own_id(api: httpx.Client) -> None:
    ids = {sign_up(api).id for _ in range(3)}
    assert len(ids) == 3


def test_taken_handle_is_a_409_problem_and_the_first_password_still_works(
    api: httpx.Client,
) -> None:
    first = sign_up(api)
    again = api.post("/v1/users", json={"handle": first.handle, "password": "another-password"})
    body = assert_problem(again, 409, "conflict")
    assert first.handle in str(body["detail"])
    session = api.post("/v1/sessions", json={"handle": first.handle, "password": PASSWORD})
    assert session.status_code == 200
    refused = api.post(
        "/v1/sessions", json={"handle": first.handle, "password": "another-password"}
    )
    assert refused.status_code == 401


def test_log_in_answers_a_token_for_the_same_member(
    api: httpx.Client, token_keys: TokenKeys
) -> None:
    member = sign_up(api)
    answer = api.post("/v1/sessions", json={"handle": member.handle, "password": PASSWORD})
    assert answer.status_code == 200
    assert set(answer.json()) == {"token", "device"}
    assert verify_user_token(token_keys, answer.json()["token"]) == User(member.id, member.handle)


def test_wrong_password_is_a_401_problem(api: httpx.Client) -> None:
    member = sign_up(api)
    answer = api.post("/v1/sessions", json={"handle": member.handle, "password": "not-it-at-all"})
    body = assert_problem(answer, 401, "unauthorized")
    assert "token" not in body


def test_unknown_handle_logs_in_like_a_wrong_password(api: httpx.Client) -> None:
    answer = api.post("/v1/sessions", json={"handle": new_handle(), "password": PASSWORD})
    body = assert_problem(answer, 401, "unauthorized")
    wrong = api.post("/v1/sessions", json={"handle": sign_up(api).handle, "password": "nope-nope"})
    assert body["detail"] == wrong.json()["detail"]


def test_repeated_wrong_passwords_get_429_then_even_the_right_one_is_refused(
    api: httpx.Client,
) -> None:
    member = sign_up(api)
    threshold = UsersSettings().login_failures_before_lockout
    wrong = {"handle": member.handle, "password": "guess-guess"}
    statuses = [api.post("/v1/sessions", json=wrong).status_code for _ in range(threshold)]
    assert statuses == [401] * threshold
    assert_problem(api.post("/v1/sessions", json=wrong), 429, "too-many-requests")
    right = {"handle": member.handle, "password": PASSWORD}
    assert_problem(api.post("/v1/sessions", json=right), 429, "too-many-requests")
    # The lockout is per handle: another member logs in as usual.
    other = sign_up(api)
    ok = api.post("/v1/sessions", json={"handle": other.handle, "password": PASSWORD})
    assert ok.status_code == 200


def test_a_success_before_the_threshold_resets_the_count_of_failures(api: httpx.Client) -> None:
    member = sign_up(api)
    threshold = UsersSettings().login_failures_before_lockout
    wrong = {"handle": member.handle, "password": "guess-guess"}
    right = {"handle": member.handle, "password": PASSWORD}
    for _ in range(threshold - 1):
        assert api.post("/v1/sessions", json=wrong).status_code == 401
    assert api.post("/v1/sessions", json=right).status_code == 200
    for _ in range(threshold - 1):
        assert api.post("/v1/sessions", json=wrong).status_code == 401
    assert api.post("/v1/sessions", json=right).status_code == 200


def test_racing_sign_ups_for_one_handle_create_exactly_one_account(
    api: httpx.Client, layout: LocalLayout
) -> None:
    handle = new_handle("race")

    def sign_up_as(index: int) -> httpx.Response:
        with httpx.Client(base_url=layout.gateway_url, timeout=15) as own:
            body = {"handle": handle, "password": f"password-{index}"}
            return own.post("/v1/users", json=body)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(sign_up_as, range(8)))
    winners = [i for i, a in enumerate(answers) if a.status_code == 201]
    assert len(winners) == 1
    for answer in answers:
        if answer.status_code != 201:
            assert_problem(answer, 409, "conflict")
    (winner,) = winners
    own = {"handle": handle, "password": f"password-{winner}"}
    assert api.post("/v1/sessions", json=own).status_code == 200
    loser = {"handle": handle, "password": f"password-{(winner + 1) % 8}"}
    assert api.post("/v1/sessions", json=loser).status_code == 401


def test_guesses_sent_together_are_counted_before_any_is_checked(
    api: httpx.Client, layout: LocalLayout
) -> None:
    handle = sign_up(api).handle
    allowed = UsersSettings().login_failures_before_lockout

    def guess(index: int) -> int:
        with httpx.Client(base_url=layout.gateway_url, timeout=30) as own:
            body = {"handle": handle, "password": f"guess-{index:04d}"}
            return own.post("/v1/sessions", json=body).status_code

    with ThreadPoolExecutor(max_workers=24) as pool:
        statuses = list(pool.map(guess, range(24)))
    # Only the allowed number of guesses had their hash checked; the rest were refused unchecked.
    assert sorted(statuses) == [401] * allowed + [429] * (24 - allowed)


def test_strangers_guessing_wrong_never_lock_a_member_out_of_a_device_used_before(
    api: httpx.Client,
) -> None:
    member = sign_up(api)
    right = {"handle": member.handle, "password": PASSWORD}
    device = api.post("/v1/sessions", json=right).json().get("device")
    wrong = {"handle": member.handle, "password": "guess-guess"}
    allowed = UsersSettings().login_failures_before_lockout
    statuses = [api.post("/v1/sessions", json=wrong).status_code for _ in range(allowed + 2)]
    assert statuses[-1] == 429
    # Strangers (no device token) stay locked out; the member's own device logs in at once.
    assert_problem(api.post("/v1/sessions", json=right), 429, "too-many-requests")
    with_device = right | ({"device": device} if device else {})
    answer = api.post("/v1/sessions", json=with_device)
    assert answer.status_code == 200, answer.text
    assert answer.json()["device"]  # renewed, to send next time


def test_a_password_shorter_than_the_sign_up_minimum_is_the_same_401(api: httpx.Client) -> None:
    member = sign_up(api)
    short = api.post("/v1/sessions", json={"handle": member.handle, "password": "short"})
    body = assert_problem(short, 401, "unauthorized")
    wrong = api.post("/v1/sessions", json={"handle": member.handle, "password": "wrong-but-long"})
    assert body["detail"] == wrong.json()["detail"]


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_lockout_ends_on_time_however_many_guesses_arrive_meanwhile(
    layout: LocalLayout, anyio_backend: str
) -> None:
    client = aioredis.Redis.from_url(layout.redis_url, decode_responses=True)
    store, bucket = UserStore(client), f"users:log_in:{new_handle()}:anyone"
    try:
        assert [await store.begin_log_in(bucket, 3, 0.5) for _ in range(3)] == [0, 0, 0]
        locked_at = time.monotonic()
        assert 0.4 < await store.begin_log_in(bucket, 3, 0.5) <= 0.5
        while time.monotonic() - locked_at < 0.4:  # guessing all through the lock
            assert await store.begin_log_in(bucket, 3, 0.5) > 0
            await asyncio.sleep(0.02)
        await asyncio.sleep(max(0.0, locked_at + 0.55 - time.monotonic()))
        assert await store.begin_log_in(bucket, 3, 0.5) == 0  # the lock did not grow
    finally:
        await client.aclose()
