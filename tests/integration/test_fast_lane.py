"""The fast lanes on a real stack (redis-server, uvicorn): timeline's internal lane serves the
page the gateway relays, the gateway's public lane for `GET /v1/timeline` answers the bytes its
route answers; refusals are the routes' problem+json; lane requests are counted in the
services' metrics and hit by a fault the chaos hook sets."""

from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from stack.layout import LocalLayout
from tests.integration.chirp import eventually, post, sign_up, timeline_ids
from tests.unit.problems import assert_problem

pytestmark = pytest.mark.integration
REPLICA = "timeline-1"


@pytest.fixture
def replica(layout: LocalLayout) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=layout.url(REPLICA), timeout=10) as client:
        yield client


def lane_reads(replica: httpx.Client, status: str, route: str = "/internal/timeline") -> float:
    for family in text_string_to_metric_families(replica.get("/metrics").text):
        for sample in family.samples:
            labels = sample.labels
            if (
                sample.name == "failwhale_http_requests_total"
                and labels["route"] == route
                and labels["status"] == status
            ):
                return float(sample.value)
    return 0.0


def test_the_lane_serves_the_page_the_gateway_relays_and_counts_it(
    api: httpx.Client, replica: httpx.Client, service_credential: dict[str, str]
) -> None:
    author = sign_up(api)
    created = [post(api, author, f"lane {n}")["id"] for n in range(3)]
    eventually(lambda: timeline_ids(api, author), lambda ids: len(ids) == 3, 10.0)
    through_gateway = api.get("/v1/timeline", params={"limit": 2}, headers=author.auth)
    counted = lane_reads(replica, "200")
    direct = replica.get(
        "/internal/timeline", params={"limit": 2}, headers=author.auth | service_credential
    )
    assert direct.status_code == 200
    assert direct.json() == through_gateway.json()
    assert [item["id"] for item in direct.json()["items"]] == sorted(created, reverse=True)[:2]
    assert lane_reads(replica, "200") == counted + 1


def test_refusals_are_the_routes_problems(
    api: httpx.Client, replica: httpx.Client, service_credential: dict[str, str]
) -> None:
    reader = sign_up(api)
    bad_limit = replica.get(
        "/internal/timeline", params={"limit": 0}, headers=reader.auth | service_credential
    )
    assert_problem(bad_limit, 422, "unprocessable")
    assert_problem(replica.get("/internal/timeline", headers=reader.auth), 401, "unauthorized")
    assert_problem(replica.get("/internal/timeline", headers=service_credential), 401)


def test_a_fault_set_on_the_hook_hits_lane_reads(
    api: httpx.Client,
    replica: httpx.Client,
    layout: LocalLayout,
    service_credential: dict[str, str],
) -> None:
    reader = sign_up(api)
    hook = layout.internal_url(REPLICA) + "/internal/faults"
    plan = {"error_rate": 1.0, "duration_s": 30}
    assert httpx.put(hook, json=plan, headers=service_credential).status_code == 200
    try:
        answer = replica.get("/internal/timeline", headers=reader.auth | service_credential)
        assert_problem(answer, 503, "injected")
        faults = httpx.get(hook, headers=service_credential).json()
        assert faults["injected"] >= 1
    finally:
        httpx.delete(hook, headers=service_credential)
    answer = replica.get("/internal/timeline", headers=reader.auth | service_credential)
    assert answer.status_code == 200


def test_the_gateway_lane_answers_the_routes_bytes_and_counts_them(api: httpx.Client) -> None:
    author = sign_up(api)
    for n in range(3):
        post(api, author, f"public lane {n}")
    eventually(lambda: timeline_ids(api, author), lambda ids: len(ids) == 3, 10.0)
    counted = lane_reads(api, "200", "/v1/timeline")
    lane = api.get("/v1/timeline", params={"limit": 2}, headers=author.auth)
    # A body the lane does not take: the same read, answered by the gateway's FastAPI route.
    route = api.request(
        "GET", "/v1/timeline", params={"limit": 2}, headers=author.auth, content=b"x"
    )
    assert lane.status_code == route.status_code == 200
    assert lane.content == route.content and len(lane.json()["items"]) == 2
    assert "x-degraded" not in lane.headers
    assert lane_reads(api, "200", "/v1/timeline") == counted + 2


def test_the_gateway_leaves_bad_reads_to_its_route(api: httpx.Client) -> None:
    reader = sign_up(api)
    for query in ({"limit": 0}, {"limit": "abc"}, {"before": -1}):
        answer = api.get("/v1/timeline", params=query, headers=reader.auth)
        assert assert_problem(answer, 422, "unprocessable")["errors"]
    assert_problem(api.get("/v1/timeline"), 401, "unauthorized")
    unsigned = reader.token.rsplit(".", 1)[0] + ".not-its-signature"
    forged = {"Authorization": f"Bearer {unsigned}"}
    assert_problem(api.get("/v1/timeline", headers=forged), 401, "unauthorized")


def test_a_fault_set_on_the_gateways_hook_hits_its_lane_reads(
    api: httpx.Client, layout: LocalLayout, service_credential: dict[str, str]
) -> None:
    reader = sign_up(api)
    hook = layout.internal_url("gateway") + "/internal/faults"
    plan = {"error_rate": 1.0, "duration_s": 30}
    assert httpx.put(hook, json=plan, headers=service_credential).status_code == 200
    try:
        assert_problem(api.get("/v1/timeline", headers=reader.auth), 503, "injected")
        assert httpx.get(hook, headers=service_credential).json()["injected"] >= 1
    finally:
        httpx.delete(hook, headers=service_credential)
    assert api.get("/v1/timeline", headers=reader.auth).status_code == 200
