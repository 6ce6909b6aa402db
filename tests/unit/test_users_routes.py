"""The users service's routes in process, over an in-memory store: registration, log-in and its
lockout, the follow graph, and the service credential every route asks for."""

from collections.abc import AsyncIterator

import httpx
import pytest

from services.common.auth import (
    SERVICE_HEADER,
    TokenKeys,
    User,
    issue_service_token,
    issue_user_token,
    verify_user_token,
)
from services.common.errors import Conflict, NotFound
from services.users.app import create_app
from services.users.devices import Devices
from services.users.passwords import Passwords
from services.users.routes import get_store
from services.users.settings import UsersSettings
from tests.unit.problems import assert_problem

pytestmark = pytest.mark.anyio
LOCKOUT_AFTER = 3


class MemoryUserStore:
    """UserStore's behaviour without Redis."""

    def __init__(self) -> None:
        self.accounts: dict[int, dict[str, str]] = {}
        self.ids: dict[str, int] = {}
        self.edges: set[tuple[int, int]] = set()
        self.attempts: dict[str, int] = {}
        self.locked: set[str] = set()

    async def register(self, handle: str, password_hash: str, created_ms: int) -> int:
        if handle in self.ids:
            raise Conflict(f"the handle {handle!r} is taken")
        user_id = len(self.ids) + 1
        self.ids[handle] = user_id
        self.accounts[user_id] = {"id": str(user_id), "handle": handle, "pw": password_hash}
        return user_id

    async def id_of(self, handle: str) -> int:
        if handle not in self.ids:
            raise NotFound(f"no user {handle!r}")
        return self.ids[handle]

    async def account(self, user_id: int) -> dict[str, str]:
        if user_id not in self.accounts:
            raise NotFound(f"no user {user_id}")
        return self.accounts[user_id]

    async def follow(self, follower: int, followee: int) -> None:
        await self.account(followee)
        self.edges.add((follower, followee))

    async def unfollow(self, follower: int, followee: int) -> None:
        await self.account(followee)
        self.edges.discard((follower, followee))

    async def followers(self, user_id: int) -> list[int]:
        return sorted(a for a, b in self.edges if b == user_id)

    async def following(self, user_id: int) -> list[int]:
        return sorted(b for a, b in self.edges if a == user_id)

    async def begin_log_in(self, bucket: str, allowed: int, window_s: float) -> float:
        """The bucket's lock lasts until a test lifts it (`locked.clear()`)."""
        if bucket in self.locked:
            return window_s
        self.attempts[bucket] = self.attempts.get(bucket, 0) + 1
        if self.attempts[bucket] > allowed:
            del self.attempts[bucket]
            self.locked.add(bucket)
            return window_s
        return 0.0

    async def log_in_succeeded(self, bucket: str) -> None:
        self.attempts.pop(bucket, None)


@pytest.fixture
def store() -> MemoryUserStore:
    return MemoryUserStore()


@pytest.fixture
async def users(keys: TokenKeys, store: MemoryUserStore) -> AsyncIterator[httpx.AsyncClient]:
    settings = UsersSettings(
        token_secret=keys.user_secret,
        internal_secret=keys.internal_secret,
        login_failures_before_lockout=LOCKOUT_AFTER,
    )
    app = create_app(settings)
    app.state.passwords = Passwords(time_cost=1, memory_kib=8)  # fast: this is not about argon2
    app.state.devices = Devices(keys.user_secret, ttl_s=3600)
    app.dependency_overrides[get_store] = lambda: store
    service = {SERVICE_HEADER: issue_service_token(keys, "gateway")}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://users", headers=service
    ) as client:
        yield client


async def register(users: httpx.AsyncClient, handle: str) -> dict[str, object]:
    answer = await users.post(
        "/internal/users", json={"handle": handle, "password": "password-" + handle}
    )
    assert answer.status_code == 201, answer.text
    body: dict[str, object] = answer.json()
    return body


def bearer(keys: TokenKeys, user_id: int, handle: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + issue_user_token(keys, User(user_id, handle))}


async def test_registration_answers_the_account_and_a_token_for_it(
    users: httpx.AsyncClient, keys: TokenKeys, store: MemoryUserStore
) -> None:
    account = await register(users, "alice")
    assert (account["id"], account["handle"]) == (1, "alice")
    assert verify_user_token(keys, str(account["token"])) == User(1, "alice")
    assert store.accounts[1]["pw"].startswith("$argon2id$")
    assert "password-alice" not in store.accounts[1]["pw"]


async def test_taken_handle_is_a_409_problem(users: httpx.AsyncClient) -> None:
    await register(users, "alice")
    answer = await users.post("/internal/users", json={"handle": "alice", "password": "another-pw"})
    assert_problem(answer, 409, "conflict")


async def test_log_in_with_the_right_password_issues_a_token(
    users: httpx.AsyncClient, keys: TokenKeys
) -> None:
    await register(users, "alice")
    answer = await users.post(
        "/internal/sessions", json={"handle": "alice", "password": "password-alice"}
    )
    assert answer.status_code == 200
    assert verify_user_token(keys, answer.json()["token"]) == User(1, "alice")


@pytest.mark.parametrize("handle", ["alice", "nobody"])
async def test_wrong_password_or_unknown_handle_is_the_same_401(
    users: httpx.AsyncClient, handle: str
) -> None:
    await register(users, "alice")
    answer = await users.post("/internal/sessions", json={"handle": handle, "password": "wrong-pw"})
    body = assert_problem(answer, 401, "unauthorized")
    assert body["detail"] == "wrong handle or password"


async def test_repeated_wrong_passwords_lock_the_handle_out_even_for_the_right_one(
    users: httpx.AsyncClient, store: MemoryUserStore
) -> None:
    await register(users, "alice")
    for _ in range(LOCKOUT_AFTER):
        wrong = {"handle": "alice", "password": "wrong-pw"}
        assert (await users.post("/internal/sessions", json=wrong)).status_code == 401
    right = {"handle": "alice", "password": "password-alice"}
    assert_problem(await users.post("/internal/sessions", json=right), 429, "too-many-requests")
    store.locked.clear()  # the lockout has ended
    assert (await users.post("/internal/sessions", json=right)).status_code == 200


async def test_successful_log_in_clears_earlier_failures(
    users: httpx.AsyncClient, store: MemoryUserStore
) -> None:
    await register(users, "alice")
    await users.post("/internal/sessions", json={"handle": "alice", "password": "wrong-pw"})
    assert store.attempts == {"users:log_in:alice:anyone": 1}
    await users.post("/internal/sessions", json={"handle": "alice", "password": "password-alice"})
    assert store.attempts == {}


@pytest.mark.parametrize("password", ["", "short", "x" * 129])
async def test_a_password_no_sign_up_would_take_is_the_same_401_as_a_wrong_one(
    users: httpx.AsyncClient, password: str
) -> None:
    await register(users, "alice")
    answer = await users.post("/internal/sessions", json={"handle": "alice", "password": password})
    body = assert_problem(answer, 401, "unauthorized")
    assert body["detail"] == "wrong handle or password"


async def test_a_device_that_logged_in_before_is_not_locked_out_by_strangers_guessing(
    users: httpx.AsyncClient,
) -> None:
    signed_up = await register(users, "alice")
    right = {"handle": "alice", "password": "password-alice"}
    first = (await users.post("/internal/sessions", json=right)).json()
    wrong = {"handle": "alice", "password": "wrong-pw"}
    for _ in range(LOCKOUT_AFTER + 1):
        await users.post("/internal/sessions", json=wrong)
    assert (await users.post("/internal/sessions", json=right)).status_code == 429
    for device in (first["device"], signed_up["device"]):
        answer = await users.post("/internal/sessions", json=right | {"device": device})
        assert answer.status_code == 200
    # A device token is the handle's own: shown for another handle it counts for nothing.
    bob = await register(users, "bob")
    stolen = right | {"device": bob["device"]}
    assert (await users.post("/internal/sessions", json=stolen)).status_code == 429


async def test_follow_and_unfollow_change_both_sides_of_the_graph(
    users: httpx.AsyncClient, keys: TokenKeys
) -> None:
    await register(users, "alice")
    await register(users, "bob")
    as_bob = bearer(keys, 2, "bob")
    for _ in range(2):  # following twice is the same as once
        assert (await users.put("/internal/follows/1", headers=as_bob)).status_code == 204
    assert (await users.get("/internal/users/1/followers")).json() == {"items": [2]}
    assert (await users.get("/internal/users/2/following")).json() == {"items": [1]}
    assert (await users.delete("/internal/follows/1", headers=as_bob)).status_code == 204
    assert (await users.get("/internal/users/1/followers")).json() == {"items": []}


async def test_following_yourself_is_a_422_problem(
    users: httpx.AsyncClient, keys: TokenKeys, store: MemoryUserStore
) -> None:
    await register(users, "alice")
    answer = await users.put("/internal/follows/1", headers=bearer(keys, 1, "alice"))
    assert_problem(answer, 422)
    assert store.edges == set()


async def test_following_an_unknown_user_is_a_404_problem(
    users: httpx.AsyncClient, keys: TokenKeys, store: MemoryUserStore
) -> None:
    await register(users, "alice")
    answer = await users.put("/internal/follows/99", headers=bearer(keys, 1, "alice"))
    assert_problem(answer, 404)
    assert store.edges == set()


async def test_lookup_by_handle_and_by_id(users: httpx.AsyncClient) -> None:
    await register(users, "alice")
    assert (await users.get("/internal/users/by-handle/alice")).json() == {
        "id": 1,
        "handle": "alice",
    }
    assert (await users.get("/internal/users/1")).json() == {"id": 1, "handle": "alice"}
    assert_problem(await users.get("/internal/users/by-handle/nobody"), 404)
    assert_problem(await users.get("/internal/users/7"), 404)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/internal/users", {"handle": "mallory", "password": "long-enough"}),
        ("POST", "/internal/sessions", {"handle": "alice", "password": "password-alice"}),
        ("GET", "/internal/users/by-handle/alice", None),
        ("GET", "/internal/users/1", None),
        ("GET", "/internal/users/1/followers", None),
        ("GET", "/internal/users/1/following", None),
        ("PUT", "/internal/follows/1", None),
        ("DELETE", "/internal/follows/1", None),
    ],
)
@pytest.mark.parametrize("credential", ["none", "user token", "forged"])
async def test_internal_routes_refuse_callers_without_a_service_credential(
    users: httpx.AsyncClient,
    keys: TokenKeys,
    store: MemoryUserStore,
    method: str,
    path: str,
    body: object,
    credential: str,
) -> None:
    await register(users, "alice")
    await register(users, "bob")
    headers = bearer(keys, 2, "bob")
    headers[SERVICE_HEADER] = {
        "none": "",
        "user token": issue_user_token(keys, User(2, "bob")),
        "forged": issue_service_token(TokenKeys("f" * 64, "f" * 64), "gateway"),
    }[credential]
    answer = await users.request(method, path, json=body, headers=headers)
    assert_problem(answer, 401, "unauthorized")
    assert "mallory" not in store.ids
    assert store.edges == set()
