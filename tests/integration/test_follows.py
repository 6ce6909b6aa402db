"""Following and unfollowing through the gateway, read back from the follow graph in users."""

import httpx
import pytest

from stack.layout import LocalLayout
from tests.integration.chirp import Member, follow, sign_up
from tests.unit.problems import assert_problem

pytestmark = pytest.mark.integration


def followers(layout_users: str, credential: dict[str, str], member: Member) -> list[int]:
    answer = httpx.get(f"{layout_users}/internal/users/{member.id}/followers", headers=credential)
    assert answer.status_code == 200, answer.text
    items: list[int] = answer.json()["items"]
    return items


@pytest.fixture
def users_url(layout: LocalLayout) -> str:
    return layout.url("users")


def test_follow_answers_204_and_adds_the_follower(
    api: httpx.Client, users_url: str, service_credential: dict[str, str]
) -> None:
    alice, bob = sign_up(api), sign_up(api)
    answer = api.put(f"/v1/follows/{alice.handle}", headers=bob.auth)
    assert answer.status_code == 204
    assert answer.content == b""
    assert followers(users_url, service_credential, alice) == [bob.id]


def test_following_twice_is_the_same_as_once(
    api: httpx.Client, users_url: str, service_credential: dict[str, str]
) -> None:
    alice, bob = sign_up(api), sign_up(api)
    follow(api, bob, alice)
    follow(api, bob, alice)
    assert followers(users_url, service_credential, alice) == [bob.id]


def test_unfollow_answers_204_and_removes_only_that_follower(
    api: httpx.Client, users_url: str, service_credential: dict[str, str]
) -> None:
    alice, bob, carol = sign_up(api), sign_up(api), sign_up(api)
    follow(api, bob, alice)
    follow(api, carol, alice)
    answer = api.delete(f"/v1/follows/{alice.handle}", headers=bob.auth)
    assert answer.status_code == 204
    assert followers(users_url, service_credential, alice) == [carol.id]


def test_unfollowing_someone_not_followed_is_a_harmless_204(
    api: httpx.Client, users_url: str, service_credential: dict[str, str]
) -> None:
    alice, bob = sign_up(api), sign_up(api)
    assert api.delete(f"/v1/follows/{alice.handle}", headers=bob.auth).status_code == 204
    assert followers(users_url, service_credential, alice) == []


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
@pytest.mark.parametrize("handle", ["nobody_by_that_name", "NotAHandle", "ab"])
def test_follow_changes_for_an_unknown_handle_are_a_404_problem(
    api: httpx.Client, method: str, handle: str
) -> None:
    bob = sign_up(api)
    answer = api.request(method, f"/v1/follows/{handle}", headers=bob.auth)
    assert_problem(answer, 404, "not-found")


def test_following_yourself_is_a_422_problem_and_changes_nothing(
    api: httpx.Client, users_url: str, service_credential: dict[str, str]
) -> None:
    alice = sign_up(api)
    assert_problem(api.put(f"/v1/follows/{alice.handle}", headers=alice.auth), 422)
    assert followers(users_url, service_credential, alice) == []
