"""Safe defaults on a real stack: tokens signed with the development secrets earlier versions
published, or with malformed times, are 401s; the fault hook answers only on each service's
internal listener (its public port says 404 for it); a service refuses to start without real
secrets, in one line; and SIGTERM still stops a service that runs a second listener."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

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
from services.common.settings import DEV_INTERNAL_SECRET, DEV_TOKEN_SECRET
from stack.layout import LocalLayout, free_layout
from stack.local import HTTP_PROTOCOL, LocalStack
from tests.integration.chirp import Member, sign_up
from tests.unit.problems import assert_problem

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PUBLISHED = TokenKeys(DEV_TOKEN_SECRET, DEV_INTERNAL_SECRET)
EXIT_TIMEOUT_S = 30.0


@pytest.fixture(scope="module")
def member(api_module: httpx.Client) -> Member:
    return sign_up(api_module, "safe")


@pytest.fixture(scope="module")
def api_module(layout: LocalLayout) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=layout.gateway_url, timeout=10) as client:
        yield client


def test_a_user_token_signed_with_the_published_development_secret_is_refused(
    api_module: httpx.Client, member: Member
) -> None:
    forged = issue_user_token(PUBLISHED, User(member.id, member.handle))
    for path in ("/v1/timeline", f"/v1/users/{member.handle}/posts"):
        refused = api_module.get(path, headers={"Authorization": f"Bearer {forged}"})
        assert_problem(refused, 401)
    assert api_module.get("/v1/timeline", headers=member.auth).status_code == 200


def test_a_service_credential_signed_with_the_published_development_secret_is_refused(
    layout: LocalLayout, member: Member
) -> None:
    forged = {SERVICE_HEADER: issue_service_token(PUBLISHED, "gateway")}
    answer = httpx.get(
        f"{layout.url('users')}/internal/users/{member.id}/followers", headers=forged
    )
    assert_problem(answer, 401)
    hook = httpx.get(layout.internal_url("users") + "/internal/faults", headers=forged)
    assert_problem(hook, 401)


EXPIRIES = {
    "float": lambda now: now + 600.5,
    "exponent form": lambda now: 1e12,
    "string": lambda now: str(now + 600),
}


@pytest.mark.parametrize("expiry", EXPIRIES.values(), ids=EXPIRIES.keys())
def test_a_token_with_a_malformed_expiry_is_a_401_problem_not_a_500(
    api_module: httpx.Client,
    token_keys: TokenKeys,
    member: Member,
    expiry: Callable[[int], object],
) -> None:
    now = int(time.time())
    claims = {"sub": str(member.id), "handle": member.handle, "aud": USER_AUDIENCE,
              "iss": ISSUER, "iat": now, "exp": expiry(now)}  # fmt: skip
    token = jwt.encode(claims, token_keys.user_secret, algorithm="HS256")
    answer = api_module.get("/v1/timeline", headers={"Authorization": f"Bearer {token}"})
    assert_problem(answer, 401)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_no_public_port_serves_the_fault_hook(
    layout: LocalLayout, service_credential: dict[str, str], method: str
) -> None:
    plan = {"error_rate": 1.0, "duration_s": 30} if method == "PUT" else None
    for spec in layout.services:
        answer = httpx.request(
            method,
            layout.url(spec.name) + "/internal/faults",
            json=plan,
            headers=service_credential,
        )
        assert_problem(answer, 404)
        hook = httpx.get(
            layout.internal_url(spec.name) + "/internal/faults", headers=service_credential
        )
        assert hook.status_code == 200, f"{spec.name}: {hook.text}"
        assert hook.json()["remaining_s"] == 0  # the PUT above set nothing


def test_the_gateway_public_port_answers_404_for_any_internal_path(
    layout: LocalLayout, service_credential: dict[str, str]
) -> None:
    for path in ("/internal/faults", "/internal/", "/internal/timeline", "/internal/users/1"):
        answer = httpx.get(layout.gateway_url + path, headers=service_credential)
        assert_problem(answer, 404)


def test_the_internal_listener_serves_the_hook_with_a_credential_and_nothing_else(
    layout: LocalLayout, service_credential: dict[str, str]
) -> None:
    base = layout.internal_url("trends")
    assert_problem(httpx.get(base + "/internal/faults"), 401)
    put = httpx.put(base + "/internal/faults", json={"latency_ms": 1, "duration_s": 0.5},
                    headers=service_credential)  # fmt: skip
    assert put.status_code == 200 and put.json()["latency_ms"] == 1
    for path in ("/healthz", "/internal/trends", "/metrics"):
        assert_problem(httpx.get(base + path, headers=service_credential), 404)
    httpx.delete(base + "/internal/faults", headers=service_credential).raise_for_status()


def spawn(
    layout: LocalLayout, service: str, module: str, env: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    spec = layout.spec(service)
    command = [
        sys.executable, "-m", "uvicorn", f"{module}:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(spec.port), "--http", HTTP_PROTOCOL,
    ]  # fmt: skip
    full = os.environ.copy() | layout.environment(service) | env | {"PYTHONPATH": str(ROOT)}
    with log.open("wb") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=full)


@pytest.mark.parametrize(
    "unsafe",
    [
        {"FAILWHALE_TOKEN_SECRET": DEV_TOKEN_SECRET},
        {"FAILWHALE_INTERNAL_SECRET": "too-short"},
        {"FAILWHALE_TOKEN_SECRET": ""},
    ],
    ids=["published", "short", "unset"],
)
def test_a_service_refuses_to_start_with_unsafe_secrets_in_one_line(
    tmp_path: Path, unsafe: dict[str, str]
) -> None:
    layout = free_layout()
    log = tmp_path / "users.log"
    process = spawn(layout, "users", "services.users.app", unsafe, log)
    assert process.wait(timeout=EXIT_TIMEOUT_S) == 1
    lines = log.read_text().splitlines()
    assert len(lines) == 1 and lines[0].startswith("users refuses to start: FAILWHALE_"), lines
    for value in unsafe.values():
        assert not value or value not in lines[0]  # named, never printed


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_sigterm_stops_a_service_that_serves_the_hook_on_its_second_listener(
    tmp_path: Path,
) -> None:
    # Redis is not needed to run and stop a service: readiness would fail, health does not.
    layout = free_layout()
    spec = layout.spec("posts")
    process = spawn(layout, "posts", "services.posts.app", {}, tmp_path / "posts.log")
    try:
        deadline = time.monotonic() + EXIT_TIMEOUT_S
        while not (listening(spec.port) and listening(spec.internal_port)):
            assert process.poll() is None, (tmp_path / "posts.log").read_text()
            assert time.monotonic() < deadline, "posts did not open both listeners"
            time.sleep(0.1)
        assert httpx.get(layout.url("posts") + "/healthz").status_code == 200
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=EXIT_TIMEOUT_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    # uvicorn re-raises the signal it shut down on: the process ends by SIGTERM, after both
    # servers finished (the main one's shutdown ran the lifespan, which stopped the other).
    assert code in (0, -signal.SIGTERM)
    log = (tmp_path / "posts.log").read_text()
    assert log.count('"msg":"Finished server process') == 2, log
    assert "Application shutdown complete" in log
    assert not listening(spec.port) and not listening(spec.internal_port)


def test_no_secret_of_the_local_stack_shows_in_a_command_line(stack: LocalStack) -> None:
    """`ps` shows every process's arguments to every user of the machine."""
    layout = stack.layout
    for name in ["redis"] + [spec.name for spec in layout.services]:
        argv = Path(f"/proc/{stack.pid(name)}/cmdline").read_bytes().decode()
        for secret in (layout.redis_password, layout.token_secret, layout.internal_secret):
            assert secret not in argv, f"a secret in the command line of {name}"
