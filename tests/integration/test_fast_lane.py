"""Timeline's internal fast lane on a real stack (redis-server, uvicorn): the page a replica's
lane serves is the page the gateway relays; refusals are the route's problem+json; the lane's
requests are counted in the replica's metrics and hit by a fault the chaos hook sets."""

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


def lane_reads(replica: httpx.Client, status: str) -> float:
    for family in text_string_to_metric_families(replica.get("/metrics").text):
        for sample in family.samples:
            labels = sample.labels
            if (
                sample.name == "failwhale_http_requests_total"
                and labels["route"] == "/internal/timeline"
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
