"""Each check of the Kubernetes manifests fails on a rendered overlay broken on purpose: a check
that passes whatever the manifests say would prove nothing."""

from collections.abc import Callable
from typing import Any

import pytest

from tests.unit import test_kubernetes_checks as checks
from tests.unit.test_kubernetes_manifests import KUBERNETES_VERSION, compose, render

Doc = dict[str, Any]


def config(docs: list[Doc]) -> dict[str, str]:
    return checks.find(docs, "ConfigMap", "chirp-config")["data"]  # type: ignore[no-any-return]


def policy(docs: list[Doc], name: str) -> Doc:
    return checks.find(docs, "NetworkPolicy", name)["spec"]  # type: ignore[no-any-return]


def app(docs: list[Doc], name: str) -> Doc:
    return checks.container(checks.workload(docs, name))


Check = Callable[[list[Doc]], list[str]]


def schema(docs: list[Doc]) -> list[str]:
    return checks.schema_problems(docs, KUBERNETES_VERSION)


def probes(docs: list[Doc]) -> list[str]:
    return checks.probe_problems(docs, compose())


def env_keys(docs: list[Doc]) -> list[str]:
    return checks.env_key_problems(docs, compose())


def network(docs: list[Doc]) -> list[str]:
    return checks.network_problems(docs, checks.call_graph(compose()))


def security(docs: list[Doc]) -> list[str]:
    return checks.security_problems(docs, "useradd --system --uid 10001")


def _wrong_service_selector(docs: list[Doc]) -> None:
    checks.find(docs, "Service", "users")["spec"]["selector"] = {"app.kubernetes.io/name": "user"}


def _selector_missing_its_pods(docs: list[Doc]) -> None:
    checks.workload(docs, "posts")["spec"]["selector"]["matchLabels"]["tier"] = "x"


def _unknown_field(docs: list[Doc]) -> None:
    app(docs, "dms")["readinesProbe"] = app(docs, "dms")["readinessProbe"]


def _wrong_type(docs: list[Doc]) -> None:
    checks.workload(docs, "timeline")["spec"]["replicas"] = "two"


def _url_to_a_missing_service(docs: list[Doc]) -> None:
    config(docs)["FAILWHALE_DMS_URL"] = "http://dm:8000"


def _url_to_a_missing_port(docs: list[Doc]) -> None:
    config(docs)["FAILWHALE_TIMELINE_DISCOVERY"] = "timeline-headless:8080"


def _service_to_an_undeclared_port(docs: list[Doc]) -> None:
    checks.find(docs, "Service", "trends")["spec"]["ports"][0]["targetPort"] = "web"


def _readiness_on_the_wrong_path(docs: list[Doc]) -> None:
    app(docs, "gateway")["readinessProbe"]["httpGet"]["path"] = "/health"


def _liveness_on_a_path_nobody_serves(docs: list[Doc]) -> None:
    app(docs, "users")["livenessProbe"]["httpGet"]["path"] = "/live"


def _worker_probe_not_composes(docs: list[Doc]) -> None:
    app(docs, "locust-worker")["readinessProbe"]["exec"]["command"][-1] = "http://localhost:8089"


def _env_key_dropped(docs: list[Doc]) -> None:
    del config(docs)["FAILWHALE_FAULT_HOOK"]


def _env_key_invented(docs: list[Doc]) -> None:
    app(docs, "trends")["env"].append({"name": "FAILWHALE_TREND_WINDOW", "value": "5"})


def _redis_open_to_the_load(docs: list[Doc]) -> None:
    worker = {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "locust-worker"}}}
    redis = {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "redis"}}}
    policy(docs, "redis")["ingress"][0]["from"].append(worker)
    policy(docs, "locust-worker")["egress"].append({"to": [redis]})


def _fan_out_blocked(docs: list[Doc]) -> None:
    del policy(docs, "timeline")["egress"][0]


def _users_open_to_the_outside(docs: list[Doc]) -> None:
    del policy(docs, "users")["ingress"][0]["from"]


def _internal_listener_exposed(docs: list[Doc]) -> None:
    app(docs, "posts")["ports"].append({"name": "internal", "containerPort": 8001})


def _writable_root(docs: list[Doc]) -> None:
    app(docs, "dms")["securityContext"]["readOnlyRootFilesystem"] = False


BREAKS: dict[str, tuple[Callable[[list[Doc]], None], Check, str]] = {
    "a Service selecting no pod": (
        _wrong_service_selector,
        checks.selector_problems,
        "Service/users: selects no pods",
    ),
    "a selector missing its pods": (
        _selector_missing_its_pods,
        checks.selector_problems,
        "posts: selector misses",
    ),
    "an unknown field": (_unknown_field, schema, "'readinesProbe' was unexpected"),
    "a wrong type": (_wrong_type, schema, "'two' is not of type"),
    "a URL to a missing Service": (
        _url_to_a_missing_service,
        checks.address_problems,
        "no Service dm:8000",
    ),
    "a URL to a missing port": (
        _url_to_a_missing_port,
        checks.address_problems,
        "no Service timeline-headless:8080",
    ),
    "a Service port no pod declares": (
        _service_to_an_undeclared_port,
        checks.service_port_problems,
        "port web not declared",
    ),
    "a probe on the wrong path": (
        _readiness_on_the_wrong_path,
        probes,
        "gateway: readiness ('/health'",
    ),
    "a liveness path nobody serves": (
        _liveness_on_a_path_nobody_serves,
        probes,
        "liveness asks /live",
    ),
    "a probe that is not compose's": (
        _worker_probe_not_composes,
        probes,
        "locust-worker: readiness",
    ),
    "an env key dropped": (_env_key_dropped, env_keys, "missing ['FAILWHALE_FAULT_HOOK']"),
    "an env key compose lacks": (
        _env_key_invented,
        env_keys,
        "not in compose ['FAILWHALE_TREND_WINDOW']",
    ),
    "a call outside the graph": (
        _redis_open_to_the_load,
        network,
        "not a call: locust-worker -> redis",
    ),
    "a call of the graph blocked": (_fan_out_blocked, network, "policies block: timeline -> users"),
    "a service open to the world": (
        _users_open_to_the_outside,
        network,
        "not a call: (outside) -> users",
    ),
    "the internal listener exposed": (
        _internal_listener_exposed,
        checks.internal_listener_problems,
        "posts: declares the internal",
    ),
    "a writable root filesystem": (_writable_root, security, "dms: writable root"),
}


@pytest.mark.parametrize("name", BREAKS)
def test_a_manifest_broken_on_purpose_fails_its_check(name: str) -> None:
    docs = render("lab")
    breaks, check, expected = BREAKS[name]
    assert check(docs) == []
    breaks(docs)
    problems = check(docs)
    assert any(expected in problem for problem in problems), problems
