"""What operators and tools rely on: /healthz, /readyz and /metrics on every service, the
gateway's status page and its OpenAPI documentation of the whole public API."""

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from stack.layout import LocalLayout
from tests.integration.chirp import post, sign_up

pytestmark = pytest.mark.integration
SERVICES = ["gateway", "users", "posts", "timeline-1", "timeline-2", "dms", "trends"]
CONTRACT = {
    "/v1/users": {"post"},
    "/v1/sessions": {"post"},
    "/v1/follows/{handle}": {"put", "delete"},
    "/v1/posts": {"post"},
    "/v1/posts/{post_id}": {"get"},
    "/v1/users/{handle}/posts": {"get"},
    "/v1/timeline": {"get"},
    "/v1/dms/{handle}": {"get", "post"},
    "/v1/trends": {"get"},
    "/v1/status": {"get"},
    "/healthz": {"get"},
    "/readyz": {"get"},
}


def request_counts(text: str) -> dict[tuple[str, str, str], float]:
    counts: dict[tuple[str, str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "failwhale_http_requests_total":
                labels = sample.labels
                key = (labels["method"], labels["route"], labels["status"])
                counts[key] = counts.get(key, 0) + sample.value
    return counts


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_is_alive_and_ready_under_its_own_name(
    layout: LocalLayout, service: str
) -> None:
    health = httpx.get(layout.url(service) + "/healthz")
    assert health.json() == {"status": "ok", "service": service}
    ready = httpx.get(layout.url(service) + "/readyz")
    assert ready.json() == {"status": "ready", "service": service}


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_exports_request_counts_by_route_template(
    layout: LocalLayout, service: str
) -> None:
    httpx.get(layout.url(service) + "/healthz")
    answer = httpx.get(layout.url(service) + "/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    counts = request_counts(answer.text)
    assert counts[("GET", "/healthz", "200")] >= 1
    assert "failwhale_http_request_duration_seconds" in answer.text


def test_metrics_name_routes_by_template_never_by_raw_ids(
    api: httpx.Client, layout: LocalLayout
) -> None:
    author = sign_up(api)
    created = post(api, author, "count me")
    api.get(f"/v1/posts/{created['id']}", headers=author.auth)
    api.get(f"/v1/users/{author.handle}/posts", headers=author.auth)
    gateway = httpx.get(layout.url("gateway") + "/metrics").text
    posts = httpx.get(layout.url("posts") + "/metrics").text
    assert request_counts(gateway)[("GET", "/v1/posts/{post_id}", "200")] >= 1
    assert request_counts(gateway)[("GET", "/v1/users/{handle}/posts", "200")] >= 1
    assert request_counts(posts)[("GET", "/internal/posts/{post_id}", "200")] >= 1
    for text in (gateway, posts):
        assert str(created["id"]) not in text
        assert author.handle not in text


def test_unmatched_paths_are_counted_under_one_label(
    api: httpx.Client, layout: LocalLayout
) -> None:
    api.get("/no/such/thing/raw-qzx")
    gateway = httpx.get(layout.url("gateway") + "/metrics").text
    assert request_counts(gateway)[("GET", "unmatched", "404")] >= 1
    assert "raw-qzx" not in gateway


def test_openapi_lists_every_public_path_of_the_contract(api: httpx.Client) -> None:
    answer = api.get("/openapi.json")
    assert answer.status_code == 200
    paths = answer.json()["paths"]
    for path, methods in CONTRACT.items():
        assert path in paths, path
        assert methods <= set(paths[path]), (path, set(paths[path]))
    assert not [p for p in paths if p.startswith("/internal")]


def test_docs_page_is_served_and_points_at_the_openapi_document(api: httpx.Client) -> None:
    answer = api.get("/docs")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert "/openapi.json" in answer.text


def test_status_lists_every_dependency_without_auth(api: httpx.Client) -> None:
    answer = api.get("/v1/status")
    assert answer.status_code == 200
    body = answer.json()
    names = {d["name"] for d in body["dependencies"]}
    assert {"users", "posts", "dms", "trends"} <= names
    assert any(name.startswith("timeline") for name in names)
    for dependency in body["dependencies"]:
        assert 0.0 <= dependency["error_rate"] <= 1.0
        assert isinstance(dependency["degraded"], bool)
        assert "breaker" in dependency
    assert "secret" not in answer.text.lower()
