"""The checks the Kubernetes manifests must pass, each returning its problems (one line each, []
when there is none), and tests of the NetworkPolicy reading they rest on.

test_kubernetes_manifests.py runs them on each rendered overlay; test_kubernetes_broken.py on
documents broken on purpose.
"""

import base64
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate

from services.common.health import router as health_router
from services.common.settings import DEFAULT_INTERNAL_PORT

Doc = dict[str, Any]
WORKLOADS = ("Deployment", "StatefulSet")
# compose's two timeline containers are one Deployment's replicas
MERGED = {"timeline-1": "timeline", "timeline-2": "timeline"}
# keys a container has beyond its compose service's: the gateway's replica discovery, and the
# Redis password FAILWHALE_REDIS_URL is built from (compose substitutes it in the file)
EXTRA_KEYS = {"FAILWHALE_TIMELINE_DISCOVERY", "FAILWHALE_REDIS_PASSWORD"}
# Compose services with no workload on Kubernetes: the chaos agent applies faults through the
# Docker socket for the web UI's Chaos tab; on a cluster Chaos Mesh applies faults, and no process
# of the stack gets rights over the cluster (docs/kubernetes.md).
ABSENT_SERVICES = frozenset({"chaos-agent"})
# ...so the Locust master there has no agent to call: its console keys are absent too (the
# Chaos tab shows the charts and says there is no chaos agent).
ABSENT_KEYS = {
    "locust-master": {
        "FAILWHALE_CONSOLE_AGENT_URL",
        "FAILWHALE_CONSOLE_TOKEN",
        "FAILWHALE_CONSOLE_REMOTE",
        "FAILWHALE_PUBLISH_ADDRESS",
    }
}
# the one call compose's depends_on does not show: timeline's fan-out asks users for followers
UNDECLARED_CALLS = {("timeline", "users")}
OUTSIDE = "(outside)"
ADDRESS_KEY = re.compile(r"^(FAILWHALE_\w+_URLS?|LOCUST_HOST)$")
DISCOVERY_KEY = "FAILWHALE_TIMELINE_DISCOVERY"
LOCUST_MASTER_PORT = 5557
DEFAULT_PORTS = {"http": 80, "https": 443, "redis": 6379}


# --- reading the documents ---


def find(docs: list[Doc], kind: str, name: str) -> Doc:
    """The document of that kind and name (a generated one's name has kustomize's hash too)."""
    named = re.compile(rf"^{re.escape(name)}(-[a-z0-9]{{10}})?$")
    (doc,) = [d for d in docs if d["kind"] == kind and named.match(d["metadata"]["name"])]
    return doc


def workloads(docs: list[Doc]) -> Iterator[Doc]:
    return (d for d in docs if d["kind"] in WORKLOADS)


def names(docs: list[Doc]) -> list[str]:
    return [d["metadata"]["name"] for d in workloads(docs)]


def workload(docs: list[Doc], name: str) -> Doc:
    (doc,) = [d for d in workloads(docs) if d["metadata"]["name"] == name]
    return doc


def pod_labels(doc: Doc) -> dict[str, str]:
    return doc["spec"]["template"]["metadata"].get("labels", {})  # type: ignore[no-any-return]


def container(doc: Doc) -> Doc:
    (one,) = doc["spec"]["template"]["spec"]["containers"]
    return one  # type: ignore[no-any-return]


def container_ports(doc: Doc) -> dict[str | int, int]:
    """Each declared port by name and by number."""
    ports: dict[str | int, int] = {}
    for port in container(doc).get("ports", []):
        ports[port["containerPort"]] = port["containerPort"]
        if "name" in port:
            ports[port["name"]] = port["containerPort"]
    return ports


def secret_value(secret: Doc, key: str) -> str:
    return base64.b64decode(secret["data"][key]).decode()


def environment(docs: list[Doc], one: Doc) -> dict[str, str]:
    """The container's variables: envFrom's ConfigMaps and Secrets (keys), then env (values;
    "" for one taken from a Secret or a field)."""
    values: dict[str, str] = {}
    for source in one.get("envFrom", []):
        ref = source.get("configMapRef") or source.get("secretRef")
        kind = "ConfigMap" if "configMapRef" in source else "Secret"
        values.update(find(docs, kind, ref["name"]).get("data", {}))
    for var in one.get("env", []):
        values[var["name"]] = var.get("value", "")
    return values


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def selected(docs: list[Doc], selector: dict[str, str]) -> list[Doc]:
    return [d for d in workloads(docs) if matches(selector, pod_labels(d))]


# --- the checks ---


def schema_problems(docs: list[Doc], version: str) -> list[str]:
    problems = []
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{doc['kind']}/{doc['metadata']['name']}: {exc.message}")
    return problems


def selector_problems(docs: list[Doc]) -> list[str]:
    problems = []
    for doc in workloads(docs):
        if not matches(doc["spec"]["selector"].get("matchLabels", {}), pod_labels(doc)):
            problems.append(f"{doc['kind']}/{doc['metadata']['name']}: selector misses its pods")
    for doc in docs:
        name = f"{doc['kind']}/{doc['metadata']['name']}"
        if doc["kind"] == "Service" and not selected(docs, doc["spec"].get("selector", {})):
            problems.append(f"{name}: selects no pods")
        pdb = doc["kind"] == "PodDisruptionBudget"
        if pdb and not selected(docs, doc["spec"]["selector"].get("matchLabels", {})):
            problems.append(f"{name}: selects no pods")
        if doc["kind"] == "NetworkPolicy":
            wanted = doc["spec"]["podSelector"].get("matchLabels", {})
            peers = [p for r in _rules(doc) for p in r.get("from", r.get("to", []))]
            wanted_peers = [p["podSelector"] for p in peers if set(p) == {"podSelector"}]
            for labels in [wanted, *[p.get("matchLabels", {}) for p in wanted_peers]]:
                if labels and not selected(docs, labels):
                    problems.append(f"{name}: {labels} selects no pods")
    return problems


def service_port_problems(docs: list[Doc]) -> list[str]:
    problems = []
    for svc in (d for d in docs if d["kind"] == "Service"):
        for port in svc["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            for pod in selected(docs, svc["spec"].get("selector", {})):
                if target not in container_ports(pod):
                    problems.append(
                        f"Service/{svc['metadata']['name']}: port {target} not declared "
                        f"by {pod['metadata']['name']}"
                    )
    return problems


def addresses(docs: list[Doc], doc: Doc) -> Iterator[tuple[str, str, int]]:
    """(where, host, port) of every address the container is given: env, command, probes."""
    one = container(doc)
    for key, value in environment(docs, one).items():
        if ADDRESS_KEY.match(key):
            for url in filter(None, value.split(",")):
                parts = urlsplit(url)
                yield key, parts.hostname or "", parts.port or DEFAULT_PORTS.get(parts.scheme, 0)
        elif key == DISCOVERY_KEY and value:
            host, _, port = value.rpartition(":")
            yield key, host, int(port)
    command = one.get("command", [])
    if "--master-host" in command:
        yield "--master-host", command[command.index("--master-host") + 1], LOCUST_MASTER_PORT
    for kind in ("readinessProbe", "livenessProbe", "startupProbe"):
        for word in one.get(kind, {}).get("exec", {}).get("command", []):
            if word.startswith("http://"):
                parts = urlsplit(word)
                yield kind, parts.hostname or "", parts.port or 80


def address_problems(docs: list[Doc]) -> list[str]:
    services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}
    problems = []
    for doc in workloads(docs):
        for where, host, port in addresses(docs, doc):
            svc = services.get(host)
            ports = [p["port"] for p in svc["spec"]["ports"]] if svc else []
            if port not in ports:
                problems.append(f"{doc['metadata']['name']} {where}: no Service {host}:{port}")
    return problems


def compose_services(compose: dict[str, Any]) -> dict[str, list[Doc]]:
    """Each workload's compose services (two for timeline; none for the chaos agent)."""
    grouped: dict[str, list[Doc]] = {}
    for name, service in compose["services"].items():
        if name not in ABSENT_SERVICES:
            grouped.setdefault(MERGED.get(name, name), []).append(service)
    return grouped


def _probe_port(doc: Doc, probe: Doc) -> int:
    return container_ports(doc).get(probe["httpGet"]["port"], -1)


def probe_problems(docs: list[Doc], compose: dict[str, Any]) -> list[str]:
    problems = []
    served = {route.path for route in health_router.routes}  # type: ignore[attr-defined]
    for name, services in compose_services(compose).items():
        doc, test = workload(docs, name), services[0]["healthcheck"]["test"]
        one = container(doc)
        readiness = one.get("readinessProbe", {})
        if test[1:4] == ["python", "-m", "services.common.healthcheck"]:
            url = urlsplit(test[4])
            got = (readiness.get("httpGet", {}).get("path"), _probe_port(doc, readiness))
            if readiness.get("httpGet") is None or got != (url.path, url.port):
                problems.append(f"{name}: readiness {got}, compose asks {url.path} on {url.port}")
        else:
            command = ["sh", "-c", test[1]] if test[0] == "CMD-SHELL" else test[1:]
            if readiness.get("exec", {}).get("command") != command:
                problems.append(f"{name}: readiness is not compose's {command}")
        # liveness: a route every service serves, or the master's own healthcheck path
        liveness = one.get("livenessProbe", {}).get("httpGet")
        paths = served | {urlsplit(test[-1]).path}
        if liveness and liveness["path"] not in paths:
            problems.append(f"{name}: liveness asks {liveness['path']}, served: {sorted(paths)}")
    return problems


def env_key_problems(docs: list[Doc], compose: dict[str, Any]) -> list[str]:
    problems = []
    for name, services in compose_services(compose).items():
        wanted = set().union(*(s.get("environment", {}) for s in services)) | EXTRA_KEYS
        wanted -= ABSENT_KEYS.get(name, set())
        got = set(environment(docs, container(workload(docs, name))))
        extra = EXTRA_KEYS if name in {"redis"} or name.startswith("locust") else set()
        if got != wanted - extra:
            missing, unknown = sorted((wanted - extra) - got), sorted(got - wanted)
            problems.append(f"{name}: missing {missing}, not in compose {unknown}")
    return problems


def call_graph(compose: dict[str, Any]) -> set[tuple[str, str]]:
    """Who calls whom, by workload: compose's depends_on, Locust's host and master, the calls
    compose does not declare, and the world outside calling the gateway only."""
    edges = set(UNDECLARED_CALLS) | {(OUTSIDE, "gateway")}
    for name, services in compose_services(compose).items():
        for service in services:
            edges |= {(name, MERGED.get(dep, dep)) for dep in service.get("depends_on", [])}
            host = urlsplit(service.get("environment", {}).get("LOCUST_HOST", "")).hostname
            if host:
                edges.add((name, host))
    return edges


def _rules(policy: Doc) -> list[Doc]:
    return policy["spec"].get("ingress", []) + policy["spec"].get("egress", [])


def _peer_allows(rule: Doc, key: str, peer: dict[str, str] | None) -> bool:
    """Does the rule's from/to let `peer` (a pod of the namespace; None: outside) through?"""
    if key not in rule:
        return True
    for entry in rule[key]:
        if "ipBlock" in entry or entry.get("namespaceSelector") == {}:
            return True
        pods = entry.get("podSelector") if set(entry) == {"podSelector"} else None
        if (
            pods is not None
            and peer is not None
            and (not pods or matches(pods["matchLabels"], peer))
        ):
            return True
    return False


def _port_allows(rule: Doc, number: int, name: str | None) -> bool:
    ports = rule.get("ports")
    return not ports or any(p.get("port") in (number, name, None) for p in ports)


def _selects(selector: Doc, pod: Doc) -> bool:
    return not selector or matches(selector.get("matchLabels", {}), pod_labels(pod))


def allowed(docs: list[Doc], direction: str, pod: Doc, peer: Doc | None, port: int) -> bool:
    """NetworkPolicy semantics for one direction: open unless a policy isolates the pod, then
    only what a rule of a policy selecting it allows."""
    key = "from" if direction == "Ingress" else "to"
    # a named port is the receiving pod's
    receiver = pod if direction == "Ingress" else peer
    ports = container_ports(receiver) if receiver else {}
    names = {number: name for name, number in ports.items() if isinstance(name, str)}
    labels = pod_labels(peer) if peer else None
    isolating = [
        p
        for p in docs
        if p["kind"] == "NetworkPolicy"
        and direction in p["spec"].get("policyTypes", [])
        and _selects(p["spec"]["podSelector"], pod)
    ]
    rules = [r for p in isolating for r in p["spec"].get(direction.lower(), [])]
    return not isolating or any(
        _peer_allows(r, key, labels) and _port_allows(r, port, names.get(port)) for r in rules
    )


def allowed_calls(docs: list[Doc]) -> set[tuple[str, str]]:
    edges = set()
    for dst in workloads(docs):
        for port in set(container_ports(dst).values()):
            if allowed(docs, "Ingress", dst, None, port):
                edges.add((OUTSIDE, dst["metadata"]["name"]))
            for src in workloads(docs):
                if allowed(docs, "Ingress", dst, src, port) and allowed(
                    docs, "Egress", src, dst, port
                ):
                    edges.add((src["metadata"]["name"], dst["metadata"]["name"]))
    return edges


def _reaches_dns(docs: list[Doc], pod: Doc) -> bool:
    for policy in docs:
        if policy["kind"] != "NetworkPolicy" or not _selects(policy["spec"]["podSelector"], pod):
            continue
        for rule in policy["spec"].get("egress", []):
            udp53 = any(p.get("protocol") == "UDP" and p.get("port") == 53 for p in rule["ports"])
            to_dns = any(
                peer.get("podSelector", {}).get("matchLabels") == {"k8s-app": "kube-dns"}
                for peer in rule.get("to", [])
            )
            if udp53 and to_dns:
                return True
    return False


def network_problems(docs: list[Doc], graph: set[tuple[str, str]]) -> list[str]:
    got = allowed_calls(docs)
    no_dns = [
        f"{d['metadata']['name']}: no DNS" for d in workloads(docs) if not _reaches_dns(docs, d)
    ]
    return (
        [f"allowed but not a call: {a} -> {b}" for a, b in sorted(got - graph)]
        + [f"a call the policies block: {a} -> {b}" for a, b in sorted(graph - got)]
        + no_dns
    )


def internal_listener_problems(docs: list[Doc]) -> list[str]:
    """The fault hook's listener stays on the pod's loopback: no port, no Service, no host."""
    problems = []
    for doc in workloads(docs):
        one, name = container(doc), doc["metadata"]["name"]
        env = environment(docs, one)
        internal = int(env.get("FAILWHALE_INTERNAL_PORT") or DEFAULT_INTERNAL_PORT)
        if internal in container_ports(doc).values():
            problems.append(f"{name}: declares the internal port {internal}")
        if env.get("FAILWHALE_INTERNAL_HOST", "127.0.0.1") not in ("127.0.0.1", "::1"):
            problems.append(f"{name}: internal listener on {env['FAILWHALE_INTERNAL_HOST']}")
        for svc in (d for d in docs if d["kind"] == "Service"):
            if doc in selected(docs, svc["spec"].get("selector", {})) and any(
                internal in (p["port"], p.get("targetPort")) for p in svc["spec"]["ports"]
            ):
                problems.append(f"Service/{svc['metadata']['name']}: exposes {internal} of {name}")
    return problems


def security_problems(docs: list[Doc], dockerfile: str) -> list[str]:
    """Non-root (the app image as its own user), read-only, no privilege, requests and limits."""
    match = re.search(r"--uid (\d+)", dockerfile)
    image_uid = int(match.group(1)) if match else -1
    problems = []
    for doc in workloads(docs):
        pod, one, name = doc["spec"]["template"]["spec"], container(doc), doc["metadata"]["name"]
        context, box = pod.get("securityContext", {}), one.get("securityContext", {})
        if context.get("runAsNonRoot") is not True or not context.get("runAsUser"):
            problems.append(f"{name}: may run as root")
        if one["image"].startswith("failwhale/app") and context.get("runAsUser") != image_uid:
            problems.append(f"{name}: not the image's user {image_uid}")
        wanted = {"readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False}
        if {k: box.get(k) for k in wanted} != wanted or box.get("capabilities") != {
            "drop": ["ALL"]
        }:
            problems.append(f"{name}: writable root, privilege escalation or capabilities")
        resources = one.get("resources", {})
        for part in ("requests", "limits"):
            if set(resources.get(part, {})) != {"cpu", "memory"}:
                problems.append(f"{name}: no cpu and memory {part}")
        if pod.get("automountServiceAccountToken") is not False:
            problems.append(f"{name}: mounts a service account token")
    return problems


# --- the NetworkPolicy reading, on small documents ---


def _pod(name: str, port: int = 8000) -> Doc:
    return {
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"ports": [{"name": "http", "containerPort": port}]}]},
            }
        },
    }


def _policy(name: str, types: list[str], **rules: Any) -> Doc:
    spec = {"podSelector": {"matchLabels": {"app": name}}, "policyTypes": types, **rules}
    return {"kind": "NetworkPolicy", "metadata": {"name": name}, "spec": spec}


def test_pods_under_no_policy_are_open_to_everyone() -> None:
    docs = [_pod("a"), _pod("b")]
    everyone = {OUTSIDE, "a", "b"}
    assert allowed_calls(docs) == {(src, dst) for src in everyone for dst in "ab"}


def test_a_rule_without_peers_admits_the_outside_and_named_ports_are_the_receivers() -> None:
    deny_all = {"kind": "NetworkPolicy", "metadata": {"name": "deny"}, "spec": {"podSelector": {}}}
    deny_all["spec"]["policyTypes"] = ["Ingress", "Egress"]
    docs = [
        _pod("a"),
        _pod("b"),
        deny_all,
        _policy("b", ["Ingress"], ingress=[{"ports": [{"port": "http"}]}]),
        _policy("a", ["Egress"], egress=[{"to": [{"podSelector": {"matchLabels": {"app": "b"}}}]}]),
    ]
    assert allowed_calls(docs) == {(OUTSIDE, "b"), ("a", "b")}
    docs[3]["spec"]["ingress"][0]["ports"] = [{"port": 9999}]
    assert allowed_calls(docs) == set()
