"""The gateway's OpenAPI document says what the gateway really does (found by schemathesis,
reliability check 9): every status a route can answer is documented, and the Idempotency-Key
header carries the rule the services enforce."""

import re
from typing import Any

import pytest

from services.common.idempotency import checked_key
from services.common.limits import IDEMPOTENCY_KEY_MAX
from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from tests.unit.stack_keys import SECRETS


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    document: dict[str, Any] = create_app(GatewaySettings(**SECRETS)).openapi()
    return document


def responses(schema: dict[str, Any], method: str, path: str) -> set[str]:
    return set(schema["paths"][path][method]["responses"])


def test_log_in_documents_the_lockout_429(schema: dict[str, Any]) -> None:
    assert "429" in responses(schema, "post", "/v1/sessions")


@pytest.mark.parametrize("path", ["/v1/posts", "/v1/dms/{handle}"])
def test_writes_document_the_409_of_a_key_in_progress(schema: dict[str, Any], path: str) -> None:
    assert {"201", "202", "409", "422"} <= responses(schema, "post", path)


@pytest.mark.parametrize("path", ["/v1/posts", "/v1/dms/{handle}"])
def test_idempotency_key_header_publishes_the_enforced_rule(
    schema: dict[str, Any], path: str
) -> None:
    (header,) = [
        p
        for p in schema["paths"][path]["post"]["parameters"]
        if p["in"] == "header" and p["name"] == "Idempotency-Key"
    ]
    rule = next(s for s in header["schema"]["anyOf"] if s.get("type") == "string")
    assert (rule["minLength"], rule["maxLength"]) == (1, IDEMPOTENCY_KEY_MAX)
    published = re.compile(rule["pattern"])
    for key in ["k", "a b:c/d", "x" * IDEMPOTENCY_KEY_MAX]:
        assert published.fullmatch(key) and checked_key(key) == key
    for key in [" edge", "edge ", "tab\there", "clé"]:
        assert not published.fullmatch(key)


def test_operation_ids_are_the_route_names_and_links_lead_to_them(schema: dict[str, Any]) -> None:
    operations = {
        op["operationId"]: (method, path)
        for path, methods in schema["paths"].items()
        for method, op in methods.items()
    }
    assert operations["follow"] == ("put", "/v1/follows/{handle}")
    for method, path in [("post", "/v1/users"), ("post", "/v1/posts")]:
        links = schema["paths"][path][method]["responses"]["201"]["links"]
        assert links
        for name, target in links.items():
            assert re.fullmatch(r"[A-Za-z0-9._-]+", name)
            assert target["operationId"] in operations
