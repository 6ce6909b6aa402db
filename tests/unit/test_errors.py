"""The one mapping of errors to RFC 9457 problem+json answers, for every kind of failure."""

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, ConfigDict
from redis.exceptions import BusyLoadingError, ConnectionError, TimeoutError

from services.common.errors import (
    PROBLEM_BASE,
    PROBLEM_JSON,
    BadRequest,
    ChirpError,
    Conflict,
    DependencyUnavailable,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
    Unauthorized,
    Unprocessable,
    error_for_status,
    install_error_handlers,
    problem_response,
)
from services.common.redis_store import install_redis_error_handler
from tests.unit.problems import assert_problem

pytestmark = pytest.mark.anyio


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str
    count: int


ClientFor = Callable[[Exception], httpx.AsyncClient]


def failing_app(error: Exception) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    install_redis_error_handler(app)

    @app.get("/fail")
    async def fail() -> None:
        raise error

    @app.post("/items")
    async def create(body: Body) -> Body:
        return body

    # Through an included router, as the services' routes are.
    things = APIRouter(prefix="/things")

    @things.get("/{thing}")
    async def read_thing(thing: int) -> int:
        return thing

    @things.put("/{thing}")
    async def replace_thing(thing: int) -> int:
        return thing

    app.include_router(things)

    return app


@pytest.fixture
async def client_for() -> AsyncIterator[ClientFor]:
    clients: list[httpx.AsyncClient] = []

    def open_client(error: Exception) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=failing_app(error), raise_app_exceptions=False)
        client = httpx.AsyncClient(transport=transport, base_url="http://svc")
        clients.append(client)
        return client

    yield open_client
    for client in clients:
        await client.aclose()


@pytest.mark.parametrize(
    ("error", "status", "slug"),
    [
        (BadRequest("bad"), 400, "bad-request"),
        (Unauthorized("who are you"), 401, "unauthorized"),
        (Forbidden("not yours"), 403, "forbidden"),
        (NotFound("no such post"), 404, "not-found"),
        (Conflict("taken"), 409, "conflict"),
        (PayloadTooLarge("too big"), 413, "payload-too-large"),
        (Unprocessable("nope"), 422, "unprocessable"),
        (TooManyRequests("slow down"), 429, "too-many-requests"),
    ],
)
async def test_each_chirp_error_becomes_a_problem_with_its_status_and_detail(
    client_for: ClientFor, error: ChirpError, status: int, slug: str
) -> None:
    body = assert_problem(await client_for(error).get("/fail"), status, slug)
    assert body["detail"] == error.detail
    assert body["title"] == type(error).title


async def test_unauthorized_answer_asks_for_a_bearer_token(client_for: ClientFor) -> None:
    answer = await client_for(Unauthorized("no token")).get("/fail")
    assert answer.headers["www-authenticate"] == "Bearer"


async def test_dependency_unavailable_is_a_503_with_retry_after(client_for: ClientFor) -> None:
    answer = await client_for(DependencyUnavailable("posts", retry_after_s=7)).get("/fail")
    body = assert_problem(answer, 503, "dependency-unavailable")
    assert answer.headers["retry-after"] == "7"
    assert body["detail"] == "posts is unavailable"


@pytest.mark.parametrize("outage", [ConnectionError("refused"), TimeoutError(), BusyLoadingError()])
async def test_redis_outage_becomes_a_503_with_retry_after(
    client_for: ClientFor, outage: Exception
) -> None:
    answer = await client_for(outage).get("/fail")
    body = assert_problem(answer, 503, "dependency-unavailable")
    assert answer.headers["retry-after"] == "1"
    assert type(outage).__name__ in str(body["detail"])


async def test_invalid_body_is_a_422_listing_each_field_error(client_for: ClientFor) -> None:
    answer = await client_for(NotFound()).post("/items", json={"text": 5, "extra": True})
    body = assert_problem(answer, 422, "unprocessable")
    errors = {e["loc"]: e["type"] for e in body["errors"]}  # type: ignore[union-attr]
    assert errors == {
        "body.text": "string_type",
        "body.count": "missing",
        "body.extra": "extra_forbidden",
    }
    assert "body.text" in str(body["detail"])


async def test_malformed_json_is_a_422_not_a_500(client_for: ClientFor) -> None:
    answer = await client_for(NotFound()).post(
        "/items", content=b'{"text": ', headers={"content-type": "application/json"}
    )
    body = assert_problem(answer, 422, "unprocessable")
    assert body["errors"][0]["type"] == "json_invalid"  # type: ignore[index]


@pytest.mark.parametrize(
    "nested",
    [b"[" * 20_000 + b"]" * 20_000, b'{"a":' * 5_000 + b"1" + b"}" * 5_000],
    ids=["arrays", "objects"],
)
async def test_json_nested_too_deeply_is_a_422_not_a_400(
    client_for: ClientFor, nested: bytes
) -> None:
    answer = await client_for(NotFound()).post(
        "/items", content=b'{"text": ' + nested + b"}", headers={"content-type": "application/json"}
    )
    body = assert_problem(answer, 422, "unprocessable")
    assert body["detail"] == "the JSON body is nested too deeply"


async def test_unknown_path_is_a_404_problem(client_for: ClientFor) -> None:
    assert_problem(await client_for(NotFound()).get("/no/such/route"), 404, "http-404")


async def test_wrong_method_is_a_405_problem_naming_the_allowed_ones(client_for: ClientFor) -> None:
    answer = await client_for(NotFound()).delete("/items")
    body = assert_problem(answer, 405, "http-405")
    assert body["title"] == "Method not allowed"
    assert answer.headers["allow"] == "POST"


async def test_405_allows_every_method_of_a_path_served_by_several_routes(
    client_for: ClientFor,
) -> None:
    answer = await client_for(NotFound()).delete("/things/7")
    assert_problem(answer, 405, "http-405")
    assert answer.headers["allow"] == "GET, PUT"


async def test_unexpected_exception_is_a_500_problem_without_internals(
    client_for: ClientFor,
) -> None:
    answer = await client_for(RuntimeError("secret stack detail")).get("/fail")
    body = assert_problem(answer, 500)
    assert "secret stack detail" not in answer.text
    assert body["title"]


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, BadRequest),
        (401, Unauthorized),
        (403, Forbidden),
        (404, NotFound),
        (409, Conflict),
        (413, PayloadTooLarge),
        (422, Unprocessable),
        (429, TooManyRequests),
        (418, BadRequest),
        (405, BadRequest),
    ],
)
def test_downstream_4xx_maps_back_to_the_same_error(status: int, kind: type[ChirpError]) -> None:
    error = error_for_status(status, "what the service said")
    assert type(error) is kind
    assert error.detail == "what the service said"


def test_downstream_401_keeps_the_bearer_challenge() -> None:
    assert error_for_status(401, "expired").headers == {"WWW-Authenticate": "Bearer"}


def test_problem_response_has_the_rfc9457_fields_and_media_type() -> None:
    response = problem_response(409, "Conflict", "taken", "conflict", {"X-A": "1"}, {"id": 3})
    assert response.status_code == 409
    assert response.media_type == PROBLEM_JSON
    assert response.headers["x-a"] == "1"
    assert response.body == (
        b'{"type":"' + PROBLEM_BASE.encode() + b'conflict","title":"Conflict","status":409,'
        b'"detail":"taken","id":3}'
    )


def test_chirp_error_without_detail_uses_its_title() -> None:
    assert NotFound().detail == "Not found"
    assert str(Conflict()) == "Conflict"
