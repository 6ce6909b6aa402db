"""Who may call what: every authenticated route refuses bad tokens (and writes nothing), and
the services' internal routes refuse anyone without a service credential."""

import time

import httpx
import jwt
import pytest

from services.common.auth import (
    ISSUER,
    SERVICE_HEADER,
    USER_AUDIENCE,
    TokenKeys,
    User,
    issue_service_token,
    issue_user_token,
)
from stack.layout import LocalLayout
from tests.integration.chirp import Member, new_handle, sign_up
from tests.unit.problems import assert_problem

pytestmark = pytest.mark.integration

AUTHENTICATED = [
    ("PUT", "/v1/follows/{peer}", None),
    ("DELETE", "/v1/follows/{peer}", None),
    ("POST", "/v1/posts", {"text": "should never be stored"}),
    ("GET", "/v1/posts/1", None),
    ("GET", "/v1/users/{peer}/posts", None),
    ("GET", "/v1/timeline", None),
    ("POST", "/v1/dms/{peer}", {"text": "should never be stored"}),
    ("GET", "/v1/dms/{peer}", None),
]
BAD_TOKENS = ["missing", "garbage", "expired", "forged", "alg none", "service token", "no bearer"]


@pytest.fixture(scope="module")
def victim(layout: LocalLayout) -> Member:
    with httpx.Client(base_url=layout.gateway_url, timeout=10) as api:
        return sign_up(api, "victim")


@pytest.fixture(scope="module")
def peer(layout: LocalLayout) -> Member:
    with httpx.Client(base_url=layout.gateway_url, timeout=10) as api:
        return sign_up(api, "peer")


def bad_authorization(kind: str, keys: TokenKeys, victim: Member) -> dict[str, str]:
    user = User(victim.id, victim.handle)
    now = int(time.time())
    claims = {"sub": str(victim.id), "handle": victim.handle, "aud": USER_AUDIENCE}
    claims |= {"iss": ISSUER, "iat": now, "exp": now + 600}
    token = {
        "garbage": "definitely.not.a-token",
        "expired": issue_user_token(keys, user, ttl_s=-60),
        "forged": issue_user_token(TokenKeys("f" * 64, "f" * 64), user),
        "alg none": jwt.encode(claims, None, algorithm="none"),
        "service token": issue_service_token(keys, "gateway"),
        "no bearer": victim.token,
    }.get(kind)
    if token is None:
        return {}
    if kind == "no bearer":
        return {"Authorization": token}
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("kind", BAD_TOKENS)
@pytest.mark.parametrize(("method", "path", "body"), AUTHENTICATED)
def test_authenticated_routes_answer_401_problem_to_bad_tokens(
    api: httpx.Client,
    token_keys: TokenKeys,
    victim: Member,
    peer: Member,
    kind: str,
    method: str,
    path: str,
    body: object,
) -> None:
    headers = bad_authorization(kind, token_keys, victim)
    answer = api.request(method, path.format(peer=peer.handle), json=body, headers=headers)
    assert_problem(answer, 401, "unauthorized")
    assert answer.headers["www-authenticate"] == "Bearer"


def test_nothing_was_written_with_a_bad_token(
    api: httpx.Client, token_keys: TokenKeys, victim: Member, peer: Member, layout: LocalLayout
) -> None:
    for kind in BAD_TOKENS:
        headers = bad_authorization(kind, token_keys, victim)
        api.post("/v1/posts", json={"text": "forged"}, headers=headers)
        api.post(f"/v1/dms/{peer.handle}", json={"text": "forged"}, headers=headers)
        api.put(f"/v1/follows/{peer.handle}", headers=headers)
    posts = api.get(f"/v1/users/{victim.handle}/posts", headers=victim.auth).json()
    assert posts["items"] == []
    assert api.get(f"/v1/dms/{peer.handle}", headers=victim.auth).json() == {"items": []}
    credential = {SERVICE_HEADER: issue_service_token(token_keys, "tests")}
    followers = httpx.get(
        f"{layout.url('users')}/internal/users/{peer.id}/followers", headers=credential
    )
    assert followers.json() == {"items": []}


SNEAKY = new_handle("sneaky")
INTERNAL = [
    ("users", "GET", "/internal/users/1/followers", None),
    ("users", "GET", "/internal/users/1/following", None),
    ("users", "GET", "/internal/users/by-handle/someone", None),
    ("users", "POST", "/internal/users", {"handle": SNEAKY, "password": "long-enough"}),
    ("users", "POST", "/internal/sessions", {"handle": SNEAKY, "password": "long-enough"}),
    ("posts", "GET", "/internal/posts/1", None),
    ("posts", "POST", "/internal/posts", {"text": "sneaky"}),
    ("posts", "GET", "/internal/users/1/posts", None),
    ("timeline-1", "GET", "/internal/timeline", None),
    ("timeline-2", "GET", "/internal/fanout", None),
    ("dms", "GET", "/internal/conversations/{peer}/messages", None),
    ("dms", "POST", "/internal/conversations/{peer}/messages", {"text": "sneaky"}),
    ("trends", "GET", "/internal/trends", None),
]


@pytest.mark.parametrize("credential", ["none", "user token", "forged", "expired"])
@pytest.mark.parametrize(("service", "method", "path", "body"), INTERNAL)
def test_internal_routes_refuse_calls_without_a_valid_service_credential(
    layout: LocalLayout,
    token_keys: TokenKeys,
    victim: Member,
    peer: Member,
    credential: str,
    service: str,
    method: str,
    path: str,
    body: object,
) -> None:
    headers = dict(victim.auth)  # a real member's token does not open internal routes
    if credential != "none":
        headers[SERVICE_HEADER] = {
            "user token": victim.token,
            "forged": issue_service_token(TokenKeys("f" * 64, "f" * 64), "gateway"),
            "expired": issue_service_token(token_keys, "gateway", ttl_s=-60),
        }[credential]
    url = layout.url(service) + path.format(peer=peer.id)
    answer = httpx.request(method, url, json=body, headers=headers)
    assert_problem(answer, 401, "unauthorized")
    # and the refused call wrote nothing
    credential = {SERVICE_HEADER: issue_service_token(token_keys, "tests")}
    users = layout.url("users")
    lookup = httpx.get(f"{users}/internal/users/by-handle/{SNEAKY}", headers=credential)
    assert lookup.status_code == 404
    own_posts = f"{layout.url('posts')}/internal/users/{victim.id}/posts"
    assert httpx.get(own_posts, headers=credential).json()["items"] == []
    conversation = f"{layout.url('dms')}/internal/conversations/{peer.id}/messages"
    assert httpx.get(conversation, headers=credential | victim.auth).json() == {"items": []}


@pytest.mark.parametrize("path", ["/internal/users/1/followers", "/internal/timeline"])
def test_gateway_does_not_expose_internal_routes(
    api: httpx.Client, victim: Member, path: str
) -> None:
    assert_problem(api.get(path, headers=victim.auth), 404)
