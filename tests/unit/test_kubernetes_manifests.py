"""The Kubernetes manifests (deploy/kubernetes), validated without a cluster: each overlay rendered
with `kubectl kustomize`, every document checked against the Kubernetes 1.30 schemas
(kubernetes-validate, unknown fields refused) and cross-checked against docker-compose.yml.

The checks live in kubernetes_checks beside this file; test_kubernetes_broken.py shows that each
of them fails on a manifest broken on purpose.
"""

import functools
import importlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.common.settings import ServiceSettings, settings_from_environment
from services.gateway.settings import GatewaySettings
from stack import env_secrets
from tests.unit import test_kubernetes_checks as checks

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "deploy" / "kubernetes"
OVERLAYS = ("lab", "resilience-off", "scaled")
KUBERNETES_VERSION = "1.30"
KUSTOMIZE_MAJOR = 5

Doc = dict[str, Any]


def kubectl() -> str:
    """kubectl with a kustomize of KUSTOMIZE_MAJOR or newer; the test fails in one line without."""
    path = shutil.which("kubectl")
    if path is None:
        pytest.fail(
            "kubectl is missing: the Kubernetes manifests cannot be rendered "
            "(docker/prerequisites.sh test installs it)",
            pytrace=False,
        )
    out = subprocess.run(
        [path, "version", "--client", "-o", "json"], capture_output=True, text=True, check=False
    )
    version = json.loads(out.stdout or "{}").get("kustomizeVersion", "v0")
    if int(version.lstrip("v").split(".")[0]) < KUSTOMIZE_MAJOR:
        pytest.fail(
            f"{path} embeds kustomize {version}; the manifests need v{KUSTOMIZE_MAJOR} or newer "
            "(kubectl 1.27+; docker/prerequisites.sh test installs one)",
            pytrace=False,
        )
    return path


def kustomize(tree: Path, overlay: str) -> subprocess.CompletedProcess[str]:
    target = tree / "overlays" / overlay
    return subprocess.run(
        [kubectl(), "kustomize", str(target)], capture_output=True, text=True, check=False
    )


@functools.cache
def _rendered(overlay: str) -> tuple[str, str]:
    """The overlay's documents as YAML, rendered from a copy of the tree with fresh secrets (as
    `python3 -m stack.env_secrets --file .../secrets.env` writes them), and those secrets."""
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "kubernetes"
        shutil.copytree(MANIFESTS, tree, ignore=shutil.ignore_patterns("secrets.env*"))
        values, _ = env_secrets.ensure(tree / "base" / "secrets.env")
        out = kustomize(tree, overlay)
        assert out.returncode == 0, out.stderr
        return out.stdout, json.dumps(values)


def render(overlay: str) -> list[Doc]:
    """A fresh copy of the overlay's rendered documents (callers may change them)."""
    text, _ = _rendered(overlay)
    return [doc for doc in yaml.safe_load_all(text) if doc]


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


@pytest.fixture(params=OVERLAYS)
def docs(request: pytest.FixtureRequest) -> list[Doc]:
    return render(request.param)


def test_every_document_is_valid_for_the_stated_kubernetes_version(docs: list[Doc]) -> None:
    assert checks.schema_problems(docs, KUBERNETES_VERSION) == []


def test_every_selector_matches_the_pod_labels_it_is_meant_for(docs: list[Doc]) -> None:
    assert checks.selector_problems(docs) == []


def test_every_service_targets_a_port_its_pods_declare(docs: list[Doc]) -> None:
    assert checks.service_port_problems(docs) == []


def test_every_address_in_env_commands_and_probes_names_a_service_and_port(
    docs: list[Doc],
) -> None:
    assert checks.address_problems(docs) == []


def test_probes_ask_what_the_compose_healthchecks_ask(docs: list[Doc]) -> None:
    assert checks.probe_problems(docs, compose()) == []


def test_each_container_has_the_environment_keys_of_its_compose_service(docs: list[Doc]) -> None:
    assert checks.env_key_problems(docs, compose()) == []


def test_only_the_chaos_agent_of_compose_is_left_out_on_purpose(docs: list[Doc]) -> None:
    # Chaos Mesh applies faults on a cluster: no workload holds rights over it (docs/kubernetes.md)
    assert "chaos-agent" in compose()["services"]
    assert not any(name.startswith("chaos") for name in checks.names(docs))
    # ...and any other compose service without a workload still fails the cross-check
    other = compose()
    other["services"]["chaos-relay"] = other["services"]["chaos-agent"]
    with pytest.raises(ValueError):
        checks.probe_problems(docs, other)


def test_network_policies_allow_exactly_the_call_graph_of_compose(docs: list[Doc]) -> None:
    assert checks.network_problems(docs, checks.call_graph(compose())) == []


def test_the_fault_hook_listener_is_on_no_port_and_no_service(docs: list[Doc]) -> None:
    assert checks.internal_listener_problems(docs) == []


def test_pods_run_as_the_images_user_read_only_with_resources(docs: list[Doc]) -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert checks.security_problems(docs, dockerfile) == []


def test_the_secret_holds_the_generated_values_and_the_base_ships_none() -> None:
    _, values_json = _rendered("lab")
    values = json.loads(values_json)
    (secret,) = [d for d in render("lab") if d["kind"] == "Secret"]
    for key in env_secrets.SECRET_KEYS:
        assert checks.secret_value(secret, key) == values[key]
    # nothing in the committed tree carries a value: the generator reads the file and only it
    kustomization = yaml.safe_load((MANIFESTS / "base" / "kustomization.yaml").read_text())
    (generator,) = kustomization["secretGenerator"]
    assert generator["envs"] == ["secrets.env"]
    assert "literals" not in generator and "files" not in generator
    assert not (MANIFESTS / "base" / "secrets.env").exists() or _is_ignored("base/secrets.env")


def _is_ignored(relative: str) -> bool:
    out = subprocess.run(["git", "-C", str(MANIFESTS), "check-ignore", "-q", relative], check=False)
    return out.returncode == 0


def test_rendering_without_the_secrets_file_fails(tmp_path: Path) -> None:
    tree = tmp_path / "kubernetes"
    shutil.copytree(MANIFESTS, tree, ignore=shutil.ignore_patterns("secrets.env*"))
    out = kustomize(tree, "lab")
    assert out.returncode != 0
    assert "secrets.env" in out.stderr


def test_timeline_is_one_deployment_of_two_found_through_a_headless_service() -> None:
    docs = render("lab")
    timeline = checks.workload(docs, "timeline")
    assert timeline["kind"] == "Deployment" and timeline["spec"]["replicas"] == 2
    headless = checks.find(docs, "Service", "timeline-headless")
    assert headless["spec"]["clusterIP"] == "None"
    gateway_env = checks.environment(docs, checks.container(checks.workload(docs, "gateway")))
    assert gateway_env["FAILWHALE_TIMELINE_DISCOVERY"] == "timeline-headless:8000"
    assert gateway_env["FAILWHALE_TIMELINE_URLS"] == "http://timeline:8000"


def test_redis_is_a_stateful_set_with_a_volume_aof_and_noeviction() -> None:
    redis = checks.workload(render("lab"), "redis")
    assert redis["kind"] == "StatefulSet"
    assert [t["metadata"]["name"] for t in redis["spec"]["volumeClaimTemplates"]] == ["data"]
    args = checks.container(redis)["args"]
    assert args[args.index("--appendonly") + 1] == "yes"
    assert args[args.index("--maxmemory-policy") + 1] == "noeviction"
    assert args[args.index("--requirepass") + 1] == "$(REDISCLI_AUTH)"


def test_overlays_change_only_what_they_say() -> None:
    lab, off, scaled = (render(o) for o in OVERLAYS)

    def config(docs: list[Doc]) -> dict[str, str]:
        return checks.find(docs, "ConfigMap", "chirp-config")["data"]  # type: ignore[no-any-return]

    assert config(lab)["FAILWHALE_RESILIENCE"] == "on"
    assert config(off) == {**config(lab), "FAILWHALE_RESILIENCE": "off"}
    replicas = {
        name: checks.workload(scaled, name)["spec"]["replicas"] for name in checks.names(lab)
    }
    assert replicas == {
        **{name: checks.workload(lab, name)["spec"]["replicas"] for name in checks.names(lab)},
        "gateway": 2,
        "posts": 2,
        "dms": 2,
        "locust-worker": 3,
    }


def test_the_chaos_mesh_examples_in_the_docs_aim_at_pods_of_the_manifests() -> None:
    docs = render("lab")
    text = (ROOT / "docs" / "kubernetes.md").read_text()
    examples = [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", text, re.S)]
    selectors = [
        selector
        for example in examples
        for template in example["spec"]["templates"]
        for selector in _selectors(template)
    ]
    assert len(examples) == 2 and len(selectors) == 3
    for selector in selectors:
        assert selector["namespaces"] == ["failwhale"]
        assert checks.selected(docs, selector["labelSelectors"]), selector


def _selectors(template: dict[str, Any]) -> list[dict[str, Any]]:
    chaos = next((v for k, v in template.items() if k.endswith("Chaos")), None)
    if chaos is None:
        return []
    return [chaos["selector"], *([chaos["target"]["selector"]] if "target" in chaos else [])]


def resolved_environment(docs: list[Doc], one: Doc, pod_name: str) -> dict[str, str]:
    """The variables the kubelet gives the container: envFrom's ConfigMaps, then env in order,
    Secret references read, `$(NAME)` expanded from the variables before it."""
    values = {
        key: value
        for source in one.get("envFrom", [])
        for key, value in checks.find(docs, "ConfigMap", source["configMapRef"]["name"])[
            "data"
        ].items()
    }
    for var in one.get("env", []):
        source = var.get("valueFrom", {})
        if "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            value = checks.secret_value(checks.find(docs, "Secret", ref["name"]), ref["key"])
        elif "fieldRef" in source:
            assert source["fieldRef"]["fieldPath"] == "metadata.name"
            value = pod_name
        else:
            value = re.sub(r"\$\((\w+)\)", lambda m: values.get(m[1], m[0]), var["value"])
        values[var["name"]] = value
    return values


@pytest.mark.parametrize("name", ["gateway", "users", "posts", "timeline", "dms", "trends"])
def test_each_service_starts_with_the_environment_its_pod_gets(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = render("lab")
    one = checks.container(checks.workload(docs, name))
    module = re.fullmatch(r"services\.(\w+)\.app:create_app", one["command"][1])
    assert module is not None
    settings_module = importlib.import_module(f"services.{module[1]}.settings")
    (settings_class,) = [
        value
        for value in vars(settings_module).values()
        if isinstance(value, type)
        and issubclass(value, ServiceSettings)
        and value is not ServiceSettings
    ]
    for key in [k for k in os.environ if k.startswith("FAILWHALE_")]:
        monkeypatch.delenv(key)
    for key, value in resolved_environment(docs, one, f"{name}-7d4b9c-x2x9z").items():
        monkeypatch.setenv(key, value)
    settings = settings_from_environment(settings_class)  # refuses unsafe secrets
    _, values_json = _rendered("lab")
    password = json.loads(values_json)[env_secrets.REDIS_PASSWORD]
    assert settings.redis_url == f"redis://:{password}@redis:6379/0"
    assert settings.fault_hook and settings.resilience == "on"
    expected_name = f"{name}-7d4b9c-x2x9z" if name == "timeline" else name
    assert settings.service_name == expected_name
    if isinstance(settings, GatewaySettings):
        assert settings.timeline_discovery == "timeline-headless:8000"
        assert settings.timeline_replicas() == ["http://timeline:8000"]
