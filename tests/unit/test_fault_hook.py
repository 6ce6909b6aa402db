"""The fault hook: off unless enabled; latency, injected 503s and blackholed callers while a
fault is active; reverted when its duration runs out or when cleared; never on health routes;
its routes only on the hook's own app (the internal listener), never on the public one."""

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from services.common.auth import SERVICE_HEADER, TokenKeys, issue_service_token
from services.common.service_app import build_service_app
from services.common.settings import ServiceSettings
from tests.unit.problems import assert_problem

pytestmark = pytest.mark.anyio


def make_app(keys: TokenKeys, hook: bool) -> FastAPI:
    router = APIRouter()

    @router.get("/work")
    async def work() -> dict[str, str]:
        return {"done": "yes"}

    settings = ServiceSettings(
        service_name="svc",
        fault_hook=hook,
        token_secret=keys.user_secret,
        internal_secret=keys.internal_secret,
    )
    app = build_service_app(settings, title="t", description="t", routers=[router])
    return app


def credential(app: FastAPI, caller: str = "chaos") -> dict[str, str]:
    keys: TokenKeys = app.state.token_keys
    return {SERVICE_HEADER: issue_service_token(keys, caller)}


def asgi_client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc")


class TwoListeners(httpx.AsyncBaseTransport):
    """/internal/faults to the hook's app, every other path to the public app: what a service
    serves on its internal and its public listener."""

    def __init__(self, app: FastAPI) -> None:
        self.public = httpx.ASGITransport(app=app)
        self.hook = httpx.ASGITransport(app=app.state.fault_hook_app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        to_hook = request.url.path.startswith("/internal/faults")
        return await (self.hook if to_hook else self.public).handle_async_request(request)


@pytest.fixture
async def hooked(keys: TokenKeys) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = make_app(keys, hook=True)
    async with httpx.AsyncClient(transport=TwoListeners(app), base_url="http://svc") as client:
        yield app, client


async def test_the_hook_is_absent_unless_enabled(keys: TokenKeys) -> None:
    app = make_app(keys, hook=False)
    assert app.state.fault_hook_app is None  # nothing for an internal listener to serve
    async with asgi_client(app) as client:
        answer = await client.put(
            "/internal/faults", json={"error_rate": 1, "duration_s": 5}, headers=credential(app)
        )
        assert answer.status_code == 404
        assert (await client.get("/work")).status_code == 200


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_the_public_app_has_no_hook_routes_with_the_hook_on(
    keys: TokenKeys, method: str
) -> None:
    app = make_app(keys, hook=True)
    async with asgi_client(app) as public:
        answer = await public.request(
            method,
            "/internal/faults",
            json={"error_rate": 1, "duration_s": 5} if method == "PUT" else None,
            headers=credential(app),
        )
        assert_problem(answer, 404)
        assert (await public.get("/work")).status_code == 200  # nothing was injected
    assert app.state.faults.active() is None


async def test_the_hook_app_serves_only_the_hook(keys: TokenKeys) -> None:
    app = make_app(keys, hook=True)
    async with asgi_client(app.state.fault_hook_app) as hook:
        assert (await hook.get("/internal/faults", headers=credential(app))).status_code == 200
        for path in ("/work", "/healthz", "/metrics", "/docs", "/openapi.json"):
            assert_problem(await hook.get(path), 404)


async def test_setting_faults_needs_a_service_credential(
    hooked: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _, client = hooked
    answer = await client.put("/internal/faults", json={"error_rate": 1, "duration_s": 5})
    assert_problem(answer, 401)
    assert (await client.get("/work")).status_code == 200


async def test_error_rate_one_answers_every_request_with_an_injected_503(
    hooked: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = hooked
    await client.put(
        "/internal/faults", json={"error_rate": 1.0, "duration_s": 30}, headers=credential(app)
    )
    for _ in range(5):
        assert_problem(await client.get("/work"), 503)
    assert (await client.get("/healthz")).status_code == 200  # health is spared
    shown = (await client.get("/internal/faults", headers=credential(app))).json()
    assert shown["error_rate"] == 1.0 and shown["injected"] == 5


async def test_latency_delays_each_request_by_at_least_the_delay(
    hooked: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = hooked
    await client.put(
        "/internal/faults", json={"latency_ms": 150, "duration_s": 30}, headers=credential(app)
    )
    started = time.monotonic()
    assert (await client.get("/work")).status_code == 200
    assert time.monotonic() - started >= 0.15


async def test_a_fault_reverts_by_itself_when_its_duration_runs_out(
    hooked: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = hooked
    await client.put(
        "/internal/faults", json={"error_rate": 1.0, "duration_s": 0.2}, headers=credential(app)
    )
    assert (await client.get("/work")).status_code == 503
    await asyncio.sleep(0.25)
    assert (await client.get("/work")).status_code == 200
    shown = (await client.get("/internal/faults", headers=credential(app))).json()
    assert shown["error_rate"] == 0 and shown["remaining_s"] == 0


async def test_clearing_reverts_at_once(hooked: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, client = hooked
    await client.put(
        "/internal/faults", json={"error_rate": 1.0, "duration_s": 60}, headers=credential(app)
    )
    cleared = await client.delete("/internal/faults", headers=credential(app))
    assert cleared.status_code == 204
    assert (await client.get("/work")).status_code == 200


async def test_blackholed_callers_are_held_while_others_are_served(
    hooked: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = hooked
    await client.put(
        "/internal/faults",
        json={"blackhole_callers": ["gateway"], "duration_s": 0.3},
        headers=credential(app),
    )
    assert (await client.get("/work", headers=credential(app, "users"))).status_code == 200
    started = time.monotonic()
    held = await client.get("/work", headers=credential(app, "gateway"))
    assert time.monotonic() - started >= 0.25  # held until the partition ended
    assert held.status_code == 200


async def test_plans_are_validated(hooked: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, client = hooked
    for plan in (
        {"error_rate": 2, "duration_s": 5},
        {"latency_ms": -1, "duration_s": 5},
        {"error_rate": 0.5},
        {"error_rate": 0.5, "duration_s": 5, "surprise": 1},
    ):
        answer = await client.put("/internal/faults", json=plan, headers=credential(app))
        assert_problem(answer, 422)
