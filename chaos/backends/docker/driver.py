"""The docker backend: the containers of one compose project, found by its labels and nothing
else. Kill, stop, pause and restart go through the Docker API; latency, loss and partitions
through a helper container in the target's network namespace; injected errors through the
services' fault hook; CPU load as busy loops run inside the target (so they share its cgroup)."""

import os
import time
from typing import Any

from docker.client import DockerClient, from_env
from docker.errors import APIError, DockerException, NotFound
from docker.models.containers import Container

from chaos import deadman
from chaos.backends import STACK_GATEWAY_URL, STACK_LOCUST_URL, inside_url
from chaos.backends.base import AppliedFault, Fault, FaultError, NotApplied, Where, fault_id
from chaos.backends.docker import faults as docker_faults
from chaos.backends.docker import network as docker_net
from chaos.backends.docker.compose import environment_of, recreate
from chaos.backends.docker.helpers import Helpers
from chaos.backends.docker.hook_call import call_inside
from chaos.backends.docker.records import DockerRecord
from chaos.backends.docker.sweep import sweep
from chaos.backends.hook import ClearHookPlans, HookError, HookPlans
from chaos.fault_specs import (
    SERVICES,
    Cpu,
    HttpErrors,
    Kill,
    Latency,
    Loss,
    Partition,
    Pause,
    Restart,
    Stop,
    single_host_refusal,
)
from chaos.journal import Journal
from chaos.undo import UndoRecord
from services.common.auth import TokenKeys, issue_service_token
from services.common.settings import DEFAULT_INTERNAL_PORT

COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"
SERVICE_PORT = 8000
REDIS_PORT = 6379
READY_TIMEOUT_S = 60.0
CALLER = "failwhale-chaos"


def default_project() -> str:
    return os.environ.get("COMPOSE_PROJECT_NAME") or "failwhale"


def open_backend(where: Where) -> "DockerBackend":
    scope = where.project or default_project()
    return DockerBackend(scope, Journal.for_scope("docker", scope, where.journal_dir))


def reopen(journal: Journal) -> "DockerBackend":
    return DockerBackend(journal.origin["scope"], journal)


class DockerBackend:
    name = "docker"

    def __init__(
        self,
        project: str | None = None,
        journal: Journal | None = None,
        client: DockerClient | None = None,
    ) -> None:
        self.project = project or default_project()
        self.journal = journal or Journal.for_scope("docker", self.project)
        # What a dead-man timer or a sweep in another process needs to rebuild this backend.
        self.journal.origin.update(backend="docker", scope=self.project)
        try:
            self.client = client or from_env()
            self.client.ping()
        except DockerException as exc:
            raise FaultError(f"the Docker daemon does not answer: {exc}") from exc
        self.helpers = Helpers(self.client, self.project)
        self.hooks = HookPlans(self)
        self.ready_timeout_s = READY_TIMEOUT_S
        self._netem: bool | None = None

    # -- the project's containers ------------------------------------------------------------

    def containers(self) -> dict[str, Container]:
        """Service name -> container, for this compose project only."""
        found = self.client.containers.list(
            all=True, filters={"label": f"{COMPOSE_PROJECT}={self.project}"}
        )
        return {c.labels[COMPOSE_SERVICE]: c for c in found if COMPOSE_SERVICE in c.labels}

    def container(self, service: str) -> Container:
        labels = [f"{COMPOSE_PROJECT}={self.project}", f"{COMPOSE_SERVICE}={service}"]
        found = self.client.containers.list(all=True, filters={"label": labels})
        if not found:
            raise FaultError(f"no container for {service} in compose project {self.project}")
        container: Container = found[0]
        return container

    def owned(self, container_id: str) -> Container | None:
        """The container, if it still exists and belongs to this project (a journal may name a
        container that was removed and whose id means nothing now)."""
        try:
            container: Container = self.client.containers.get(container_id)
        except NotFound:
            return None
        return container if container.labels.get(COMPOSE_PROJECT) == self.project else None

    def network(self, container: Container) -> str:
        networks: dict[str, Any] = container.attrs["NetworkSettings"]["Networks"]
        own = [n for n in networks if n.startswith(self.project)]
        return (own or list(networks))[0]

    def address(self, container: Container) -> str:
        container.reload()
        networks: dict[str, Any] = container.attrs["NetworkSettings"]["Networks"]
        address: str = networks[self.network(container)]["IPAddress"]
        return address

    @staticmethod
    def port(service: str) -> int:
        return REDIS_PORT if service == "redis" else SERVICE_PORT

    # -- the runner's interface ----------------------------------------------------------------

    @property
    def gateway_url(self) -> str:
        if url := inside_url(STACK_GATEWAY_URL):
            return url
        ports = self.container("gateway").attrs["NetworkSettings"]["Ports"] or {}
        bound = ports.get(f"{SERVICE_PORT}/tcp") or []
        if not bound:
            raise FaultError(f"the gateway of {self.project} publishes no port")
        return f"http://127.0.0.1:{bound[0]['HostPort']}"

    def services(self) -> dict[str, str]:
        urls = {}
        for name, container in self.containers().items():
            scheme = "redis" if name == "redis" else "http"
            if name in SERVICES and container.status == "running":
                urls[name] = f"{scheme}://{self.address(container)}:{self.port(name)}"
        return urls

    def check(self, spec: Fault) -> str | None:
        if reason := single_host_refusal(spec):
            return reason
        names = [spec.target] + ([spec.peer] if isinstance(spec, Partition) else [])
        present = self.containers()
        for name in names:
            if name not in present:
                return f"no container for {name} in compose project {self.project}"
        if isinstance(spec, Latency | Loss | Partition):
            return self.helpers.image_missing()
        if isinstance(spec, HttpErrors):
            if spec.target == "redis":
                return "redis has no fault hook: http-errors needs an HTTP service"
            try:
                status, _ = self.call(spec.target, "GET", None)
            except HookError:
                return None  # not running now: the runner may start it before the run
            if status == 404:
                return (
                    f"the fault hook is off on {spec.target}: run it with FAILWHALE_FAULT_HOOK=on"
                )
        return None

    def apply(self, spec: Fault) -> AppliedFault:
        fid = fault_id(spec)
        if reason := self.check(spec):
            return NotApplied(spec, fid, "refused", self.journal, reason)
        fault: AppliedFault
        if isinstance(spec, Kill | Stop | Pause | Restart):
            fault = docker_faults.apply_state(self, spec, fid)
        elif isinstance(spec, HttpErrors):
            fault = docker_faults.apply_errors(self, spec, fid)
        elif isinstance(spec, Cpu):
            fault = docker_faults.apply_cpu(self, spec, fid)
        elif isinstance(spec, Latency | Loss | Partition):
            fault = docker_net.apply_network(self, spec, fid)
        else:
            return NotApplied(spec, fid, "refused", self.journal, f"no docker {spec.fault} fault")
        if not isinstance(fault, NotApplied):
            deadman.watch(self.journal)
        return fault

    def sweep(self) -> list[str]:
        return sweep(self)

    def stack_locust_url(self) -> str | None:
        """The project's Locust master, if it runs and publishes its web UI."""
        master = self.containers().get("locust-master")
        if master is None or master.status != "running":
            return None
        if url := inside_url(STACK_LOCUST_URL):
            return url
        published = (master.ports or {}).get("8089/tcp") or []
        return f"http://127.0.0.1:{published[0]['HostPort']}" if published else None

    def switch_resilience(self, mode: str) -> None:
        found = {name: container.attrs for name, container in self.containers().items()}
        recreate(self.project, found, {"FAILWHALE_RESILIENCE": mode})

    def self_healing(self) -> str | None:
        return None  # compose restarts nothing a fault kills: no orchestrator

    def set_self_healing(self, mode: str) -> list[str]:
        raise FaultError("self-healing is an orchestrator's: run with --backend swarm")

    def close(self) -> None:
        """The run is over: its reverted entries are history (the report has them)."""
        self.journal.forget_reverted()
        self.client.close()

    # -- shared by faults and sweep ------------------------------------------------------------

    def has_netem(self) -> bool:
        """Whether the kernel has netem: tried once on the loopback of a throwaway namespace."""
        if self._netem is None:
            override = os.environ.get("FAILWHALE_CHAOS_LATENCY", "auto")
            if override in ("netem", "delay-proxy"):
                self._netem = override == "netem"
            else:
                out = self.client.containers.run(
                    self.helpers.image,
                    ["sh", "-c", "tc qdisc add dev lo root netem delay 1ms && echo yes; true"],
                    remove=True,
                    network_mode="none",
                    cap_add=["NET_ADMIN"],
                    labels=self.helpers.labels("netem-probe"),
                )
                self._netem = b"yes" in out
        return self._netem

    def wait_ready(self, container: Container) -> tuple[bool, float]:
        """Run the container's own healthcheck command until it passes (docker's health status
        lags by an interval)."""
        began = time.monotonic()
        test = (container.attrs["Config"].get("Healthcheck") or {}).get("Test") or []
        while time.monotonic() - began < self.ready_timeout_s:
            container.reload()
            if container.status == "running":
                if not test or test == ["NONE"]:
                    return True, time.monotonic() - began
                command = ["/bin/sh", "-c", test[1]] if test[0] == "CMD-SHELL" else test[1:]
                try:
                    code, _ = container.exec_run(command)
                except APIError:
                    code = 1
                if code == 0:
                    return True, time.monotonic() - began
            time.sleep(0.3)
        return False, time.monotonic() - began

    @staticmethod
    def environment(container: Container) -> dict[str, str]:
        return environment_of(container.attrs)

    def keys(self, container: Container) -> TokenKeys:
        """The secrets the container's service runs with (its environment)."""
        env = self.environment(container)
        token, internal = env.get("FAILWHALE_TOKEN_SECRET"), env.get("FAILWHALE_INTERNAL_SECRET")
        if not token or not internal:
            raise HookError(f"{container.name} runs without the stack's secrets in its environment")
        return TokenKeys(token, internal)

    def hook_port(self, container: Container) -> int:
        """The port of the service's internal listener, inside its container."""
        port = self.environment(container).get("FAILWHALE_INTERNAL_PORT")
        return int(port) if port else DEFAULT_INTERNAL_PORT

    def token(self, container: Container) -> str:
        return issue_service_token(self.keys(container), CALLER)

    def call(self, service: str, method: str, body: dict[str, Any] | None) -> tuple[int, Any]:
        """The fault hook of `service`, called from inside its container."""
        container = self.container(service)
        if container.status != "running":
            raise HookError(f"{service} is {container.status}: its fault hook cannot be reached")
        return call_inside(
            container, self.hook_port(container), self.token(container), method, body
        )

    def undo(self, record: UndoRecord) -> str:
        if isinstance(record, ClearHookPlans):
            return record.undo(self.hooks)
        if isinstance(record, DockerRecord):
            return record.undo(self)
        return f"{record.kind} is no docker record: left alone"
