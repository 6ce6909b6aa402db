"""Bad input through the real gateway: the right 4xx as problem+json, never a 500, and nothing
stored (checked by reading back)."""

from collections.abc import Iterator

import httpx
import pytest

from services.common.auth import SERVICE_HEADER, TokenKeys, issue_service_token
from stack.layout import LocalLayout
from tests.integration.chirp import Member, new_handle, sign_up
from tests.unit.problems import assert_problem

pytestmark = pytest.mark.integration
JSON = {"content-type": "application/json"}
OVER_64_KIB = b'{"text": "' + b"x" * (64 * 1024) + b'"}'


@pytest.fixture(scope="module")
def pair(layout: LocalLayout) -> tuple[Member, Member]:
    with httpx.Client(base_url=layout.gateway_url, timeout=10) as api:
        return sign_up(api, "bad_a"), sign_up(api, "bad_b")


def nothing_stored(api: httpx.Client, member: Member, peer: Member) -> None:
    posts = api.get(f"/v1/users/{member.handle}/posts", headers=member.auth)
    assert posts.json() == {"items": [], "next": None}
    dms = api.get(f"/v1/dms/{peer.handle}", headers=member.auth)
    assert dms.json() == {"items": []}


# Each case: keyword arguments for httpx beyond the method and path.
TEXT_BODIES = {
    "1001 characters": {"json": {"text": "x" * 1001}},
    "empty": {"json": {"text": ""}},
    "whitespace only": {"json": {"text": " \t\n "}},
    "unknown field": {"json": {"text": "hi", "sender": "someone_else"}},
    "missing text": {"json": {}},
    "text a number": {"json": {"text": 42}},
    "text null": {"json": {"text": None}},
    "text a list": {"json": {"text": ["hi"]}},
    "body a list": {"json": [{"text": "hi"}]},
    "body a string": {"json": "hi"},
    "malformed json": {"content": b'{"text": "hi"', "headers": JSON},
    "not json at all": {"content": b"text=hi", "headers": JSON},
    "empty body": {"content": b"", "headers": JSON},
    "too long key": {"json": {"text": "hi"}, "headers": {"Idempotency-Key": "k" * 201}},
}


@pytest.mark.parametrize("case", TEXT_BODIES)
def test_bad_post_is_a_422_problem_and_stores_nothing(
    api: httpx.Client, pair: tuple[Member, Member], case: str
) -> None:
    member, peer = pair
    kwargs = dict(TEXT_BODIES[case])
    headers = member.auth | kwargs.pop("headers", {})  # type: ignore[operator]
    answer = api.post("/v1/posts", headers=headers, **kwargs)  # type: ignore[arg-type]
    assert_problem(answer, 422, "unprocessable")
    nothing_stored(api, member, peer)


@pytest.mark.parametrize("case", TEXT_BODIES)
def test_bad_dm_is_a_422_problem_and_stores_nothing(
    api: httpx.Client, pair: tuple[Member, Member], case: str
) -> None:
    member, peer = pair
    kwargs = dict(TEXT_BODIES[case])
    headers = member.auth | kwargs.pop("headers", {})  # type: ignore[operator]
    answer = api.post(f"/v1/dms/{peer.handle}", headers=headers, **kwargs)  # type: ignore[arg-type]
    assert_problem(answer, 422, "unprocessable")
    nothing_stored(api, member, peer)


def test_post_of_exactly_280_characters_is_accepted_and_281_is_not(api: httpx.Client) -> None:
    member = sign_up(api)
    assert api.post("/v1/posts", json={"text": "x" * 280}, headers=member.auth).status_code == 201
    assert_problem(api.post("/v1/posts", json={"text": "y" * 281}, headers=member.auth), 422)
    posts = api.get(f"/v1/users/{member.handle}/posts", headers=member.auth).json()["items"]
    assert [p["text"] for p in posts] == ["x" * 280]


@pytest.mark.parametrize("path", ["/v1/posts", "/v1/dms/{peer}", "/v1/users", "/v1/sessions"])
def test_declared_body_over_64_kib_is_a_413_problem_and_stores_nothing(
    api: httpx.Client, pair: tuple[Member, Member], path: str
) -> None:
    member, peer = pair
    answer = api.post(
        path.format(peer=peer.handle), content=OVER_64_KIB, headers=member.auth | JSON
    )
    assert_problem(answer, 413, "payload-too-large")
    nothing_stored(api, member, peer)


def test_streamed_body_over_64_kib_is_a_413_problem_and_stores_nothing(
    api: httpx.Client, pair: tuple[Member, Member]
) -> None:
    member, peer = pair

    def chunked() -> Iterator[bytes]:
        for start in range(0, len(OVER_64_KIB), 8192):
            yield OVER_64_KIB[start : start + 8192]

    answer = api.post("/v1/posts", content=chunked(), headers=member.auth | JSON)
    assert answer.request.headers.get("transfer-encoding") == "chunked"
    assert_problem(answer, 413)
    nothing_stored(api, member, peer)


SIGN_UPS = {
    "handle too short": {"handle": "ab", "password": "long-enough"},
    "handle too long": {"handle": "x" * 31, "password": "long-enough"},
    "handle with capitals": {"handle": "NewMember", "password": "long-enough"},
    "handle with a dash": {"handle": "new-member", "password": "long-enough"},
    "password too short": {"handle": "{handle}", "password": "short"},
    "password too long": {"handle": "{handle}", "password": "p" * 129},
    "unknown field": {"handle": "{handle}", "password": "long-enough", "admin": True},
    "handle a number": {"handle": 12345, "password": "long-enough"},
    "missing password": {"handle": "{handle}"},
}


@pytest.mark.parametrize("case", SIGN_UPS)
def test_bad_sign_up_is_a_422_problem_and_creates_no_account(
    api: httpx.Client, layout: LocalLayout, token_keys: TokenKeys, case: str
) -> None:
    handle = new_handle("nobody")
    body = {k: (handle if v == "{handle}" else v) for k, v in SIGN_UPS[case].items()}
    assert_problem(api.post("/v1/users", json=body), 422, "unprocessable")
    credential = {SERVICE_HEADER: issue_service_token(token_keys, "tests")}
    for tried in {handle, str(body.get("handle"))}:
        lookup = httpx.get(
            f"{layout.url('users')}/internal/users/by-handle/{tried}", headers=credential
        )
        assert lookup.status_code == 404


def test_malformed_sign_up_json_is_a_422_problem(api: httpx.Client) -> None:
    answer = api.post("/v1/users", content=b'{"handle": ', headers=JSON)
    assert_problem(answer, 422)


PAGED = ["/v1/timeline", "/v1/users/{peer}/posts", "/v1/dms/{peer}"]


@pytest.mark.parametrize("path", PAGED)
@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc", "1.5", ""])
def test_limit_outside_1_to_100_is_a_422_problem(
    api: httpx.Client, pair: tuple[Member, Member], path: str, limit: str
) -> None:
    member, peer = pair
    answer = api.get(path.format(peer=peer.handle), params={"limit": limit}, headers=member.auth)
    body = assert_problem(answer, 422, "unprocessable")
    assert "limit" in str(body["detail"])


@pytest.mark.parametrize("path", PAGED)
@pytest.mark.parametrize("limit", ["1", "100"])
def test_limit_of_1_and_100_are_accepted(
    api: httpx.Client, pair: tuple[Member, Member], path: str, limit: str
) -> None:
    member, peer = pair
    answer = api.get(path.format(peer=peer.handle), params={"limit": limit}, headers=member.auth)
    assert answer.status_code == 200


@pytest.mark.parametrize("path", ["/v1/timeline", "/v1/users/{peer}/posts"])
@pytest.mark.parametrize("before", ["0", "-3", "abc"])
def test_before_that_is_not_a_positive_id_is_a_422_problem(
    api: httpx.Client, pair: tuple[Member, Member], path: str, before: str
) -> None:
    member, peer = pair
    answer = api.get(path.format(peer=peer.handle), params={"before": before}, headers=member.auth)
    assert_problem(answer, 422)


@pytest.mark.parametrize("after_seq", ["-1", "abc"])
def test_after_seq_that_is_not_a_natural_number_is_a_422_problem(
    api: httpx.Client, pair: tuple[Member, Member], after_seq: str
) -> None:
    member, peer = pair
    answer = api.get(f"/v1/dms/{peer.handle}", params={"after_seq": after_seq}, headers=member.auth)
    assert_problem(answer, 422)


def test_post_id_that_is_not_a_number_is_a_422_problem(
    api: httpx.Client, pair: tuple[Member, Member]
) -> None:
    member, _ = pair
    assert_problem(api.get("/v1/posts/first", headers=member.auth), 422)


@pytest.mark.parametrize(
    ("method", "path"), [("DELETE", "/v1/posts"), ("PATCH", "/v1/timeline"), ("GET", "/v1/users")]
)
def test_wrong_method_is_a_405_problem(
    api: httpx.Client, pair: tuple[Member, Member], method: str, path: str
) -> None:
    member, _ = pair
    assert_problem(api.request(method, path, headers=member.auth), 405)


def test_unknown_path_is_a_404_problem(api: httpx.Client) -> None:
    assert_problem(api.get("/v2/timeline"), 404)


HANDLE_ROUTES = [
    ("GET", "/v1/users/{handle}/posts", None),
    ("PUT", "/v1/follows/{handle}", None),
    ("DELETE", "/v1/follows/{handle}", None),
    ("GET", "/v1/dms/{handle}", None),
    ("POST", "/v1/dms/{handle}", {"text": "hi"}),
]


@pytest.mark.parametrize("suffix", ["%0A", "%0D%0A", "%20", "%00"])
@pytest.mark.parametrize(("method", "path", "body"), HANDLE_ROUTES)
def test_existing_handle_with_a_control_suffix_is_a_404_problem_not_a_500(
    layout: LocalLayout,
    pair: tuple[Member, Member],
    method: str,
    path: str,
    body: object,
    suffix: str,
) -> None:
    member, peer = pair
    # A fresh connection each time: a 500 may leave a pooled one unusable.
    with httpx.Client(base_url=layout.gateway_url, timeout=10) as api:
        url = path.format(handle=peer.handle + suffix)
        answer = api.request(method, url, json=body, headers=member.auth)
        assert_problem(answer, 404, "not-found")
        nothing_stored(api, member, peer)
