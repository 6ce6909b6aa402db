"""The swarm backend: the tasks of one swarm stack (services labelled
`com.docker.stack.namespace=<stack>`, the stack named by COMPOSE_PROJECT_NAME, else failwhale).

A task is a container on a node, so the docker backend's faults serve it as they are, aimed at
the task's container (network faults from a helper in its namespace, errors through its fault
hook, busy loops inside it); only the tasks of the node whose daemon this engine talks to can be
reached. Kill, stop, pause and restart leave the slot to the orchestrator, and faults only an
orchestrator has (scale, rolling-restart, drain) act on services and nodes."""

import copy
import os

from docker.client import DockerClient
from docker.errors import NotFound
from docker.models.containers import Container

from chaos import deadman
from chaos.backends import STACK_GATEWAY_URL, STACK_LOCUST_URL, inside_url
from chaos.backends.base import AppliedFault, Fault, FaultError, NotApplied, Where, fault_id
from chaos.backends.docker.driver import DockerBackend, default_project
from chaos.backends.docker.helpers import Helpers
from chaos.backends.hook import HookError, HookPlans
from chaos.backends.swarm import faults as task_faults
from chaos.backends.swarm import orchestrator
from chaos.backends.swarm.engine import SwarmError, SwarmStack, replica_count
from chaos.backends.swarm.keeper import SlotKeeper
from chaos.backends.swarm.records import SwarmRecord
from chaos.backends.swarm.tasks import STACK_LABEL, TargetError, Task, select, service_of
from chaos.fault_specs import Drain, HttpErrors, Latency, Loss, Partition, RollingRestart, Scale
from chaos.journal import Journal
from chaos.undo import UndoRecord
from services.common.auth import TokenKeys
from stack.swarm.publish import EDGE_PORT_BASE, edge_name

GATEWAY_PORT, LOCUST_PORT = "FAILWHALE_GATEWAY_PORT", "FAILWHALE_LOCUST_PORT"


def open_backend(where: Where) -> "SwarmBackend":
    stack = where.project or default_project()
    return SwarmBackend(stack, Journal.for_scope("swarm", stack, where.journal_dir))


def reopen(journal: Journal) -> "SwarmBackend":
    return SwarmBackend(journal.origin["scope"], journal)


def published_url(variable: str, default: int) -> str:
    """Where the edge relay publishes a port when its container cannot be read: the address and
    port `make up BACKEND=swarm` was given."""
    address = os.environ.get("FAILWHALE_PUBLISH_ADDRESS") or "127.0.0.1"
    if address in ("0.0.0.0", "::"):
        address = "127.0.0.1"
    return f"http://{address}:{os.environ.get(variable) or default}"


class SwarmBackend(SlotKeeper, DockerBackend):
    name = "swarm"

    def __init__(
        self,
        stack: str | None = None,
        journal: Journal | None = None,
        client: DockerClient | None = None,
    ) -> None:
        stack = stack or default_project()
        journal = journal or Journal.for_scope("swarm", stack)
        super().__init__(stack, journal, client)
        self.journal.origin.update(backend="swarm", scope=stack)
        self.stack = stack
        # Helpers carry the stack in their labels: a compose project of the same name keeps its own.
        self.helpers = Helpers(self.client, f"swarm-{stack}")
        self.engine = SwarmStack(self.client, stack)
        self.pinned: dict[str, Container] = {}
        self._hooks: dict[str, HookPlans] = {}
        info = self.client.info().get("Swarm") or {}
        if info.get("LocalNodeState") != "active" or not info.get("ControlAvailable"):
            raise FaultError(
                "this Docker engine is not a swarm manager: `make up BACKEND=swarm` deploys the "
                "stack on a swarm (and creates a one-node swarm where there is none)"
            )

    # -- tasks and their containers ------------------------------------------------------------

    def picked(
        self, target: str, replicas: str | float | None, local_only: bool = True
    ) -> list[Task]:
        """The running tasks the target picks (TargetError if none, or one on another node
        while `local_only`)."""
        local = self.engine.local_node() if local_only else None
        service, slot = service_of(target)
        count = None
        if slot is not None and (found := self.engine.services().get(service)) is not None:
            count = replica_count(found)
        return select(self.engine.tasks(service), target, replicas, local, count)

    def pinned_to(
        self, target: str, task: Task, peer: str | None = None, peer_task: Task | None = None
    ) -> "SwarmBackend":
        """A view of this backend in which `target` (and `peer`) name those tasks' containers:
        the docker backend's faults then act on exactly one task."""
        view = copy.copy(self)
        view.pinned = {target: self.client.containers.get(task.container_id)}
        if peer is not None and peer_task is not None:
            view.pinned[peer] = self.client.containers.get(peer_task.container_id)
        view.hooks = self._hooks.setdefault(task.container_id, HookPlans(view))
        return view

    def containers(self) -> dict[str, Container]:
        """`service.slot` -> container, for the stack's running tasks on this node."""
        local = self.engine.local_node()
        found = {}
        for task in self.engine.tasks():
            if task.running and task.node_id == local and task.container_id:
                try:
                    found[task.label] = self.client.containers.get(task.container_id)
                except NotFound:
                    continue
        return found

    def container(self, service: str) -> Container:
        if service in self.pinned:
            return self.pinned[service]
        try:
            task = self.picked(service, "one")[0]
        except TargetError as exc:
            raise FaultError(str(exc)) from exc
        container: Container = self.client.containers.get(task.container_id)
        return container

    def keys(self, container: Container) -> TokenKeys:
        """The secrets the task's service runs with: swarm secrets, files named by
        FAILWHALE_<NAME>_FILE, read inside its container."""
        env = self.environment(container)
        found = {}
        for name in ("FAILWHALE_TOKEN_SECRET", "FAILWHALE_INTERNAL_SECRET"):
            path = env.get(f"{name}_FILE")
            if path is None:
                found[name] = env.get(name, "")
                continue
            code, out = container.exec_run(["cat", path])
            found[name] = out.decode().strip() if code == 0 else ""
        if not all(found.values()):
            raise HookError(f"{container.name} runs without the stack's secrets")
        return TokenKeys(found["FAILWHALE_TOKEN_SECRET"], found["FAILWHALE_INTERNAL_SECRET"])

    def owned(self, container_id: str) -> Container | None:
        try:
            container: Container = self.client.containers.get(container_id)
        except NotFound:
            return None
        return container if container.labels.get(STACK_LABEL) == self.stack else None

    def network(self, container: Container) -> str:
        networks = [n for n in container.attrs["NetworkSettings"]["Networks"] if n != "ingress"]
        own = [n for n in networks if n.startswith(f"{self.stack}_")]
        return str((own or networks)[0])

    def healthy_in_slot(self, service: str, slot: int) -> Task | None:
        """The task running in the slot, once its container is healthy (or has no check)."""
        for task in self.engine.tasks(service):
            if task.slot != slot or not task.running or not task.container_id:
                continue
            try:
                state = self.client.containers.get(task.container_id).attrs["State"]
            except NotFound:
                continue
            health = (state.get("Health") or {}).get("Status", "healthy")
            if state.get("Status") == "running" and health == "healthy":
                return task
        return None

    # -- the runner's interface ----------------------------------------------------------------

    def edge_url(self, service_port: int, variable: str, default: int) -> str:
        """The host URL the stack's edge relay publishes a service port on, read from the
        relay's container (its inside port is EDGE_PORT_BASE + the service's port)."""
        try:
            edge = self.client.containers.get(edge_name(self.stack))
        except NotFound:
            return published_url(variable, default)
        ports = edge.attrs["NetworkSettings"].get("Ports") or {}
        bound = ports.get(f"{EDGE_PORT_BASE + service_port}/tcp") or []
        if not bound:
            return published_url(variable, default)
        host = bound[0].get("HostIp") or "127.0.0.1"
        host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        return f"http://{host}:{bound[0]['HostPort']}"

    @property
    def gateway_url(self) -> str:
        return inside_url(STACK_GATEWAY_URL) or self.edge_url(8000, GATEWAY_PORT, 8080)

    def stack_locust_url(self) -> str | None:
        """The stack's Locust master (published by the edge relay), if the stack runs one."""
        if "locust" not in self.engine.services():
            return None
        return inside_url(STACK_LOCUST_URL) or self.edge_url(8089, LOCUST_PORT, 8089)

    def services(self) -> dict[str, str]:
        """Task addresses are on the stack's overlay network, out of the host's reach: the
        gateway (whose breakers are the ones a run watches) through its published port."""
        return {"gateway": self.gateway_url}

    def check(self, spec: Fault) -> str | None:
        services = self.engine.services()
        for side in [spec.target] + ([spec.peer] if isinstance(spec, Partition) else []):
            if service_of(side)[0] not in services:
                return f"no service {service_of(side)[0]} in swarm stack {self.stack}"
        if isinstance(spec, Scale | RollingRestart):
            return None
        if isinstance(spec, Drain):
            active = [n for n in self.engine.nodes() if n["Spec"].get("Availability") == "active"]
            if len(active) < 2:
                return (
                    f"drain needs a swarm of more than one active node (this one has "
                    f"{len(active)}): its tasks would have nowhere to go; add a node with "
                    "`docker swarm join`"
                )
            return None
        try:
            targets = self.picked(spec.target, spec.replicas)
            if isinstance(spec, Partition):
                self.picked(spec.peer, None)
        except TargetError as exc:
            return str(exc)
        if isinstance(spec, Latency | Loss | Partition):
            return self.helpers.image_missing()
        if isinstance(spec, HttpErrors):
            if spec.target == "redis":
                return "redis has no fault hook: http-errors needs an HTTP service"
            status, _ = self.pinned_to(spec.target, targets[0]).call(spec.target, "GET", None)
            if status == 404:
                return (
                    f"the fault hook is off on {spec.target}: deploy with FAILWHALE_FAULT_HOOK=on"
                )
        return None

    def apply(self, spec: Fault) -> AppliedFault:
        fid = fault_id(spec)
        if reason := self.check(spec):
            return NotApplied(spec, fid, "refused", self.journal, reason)
        fault: AppliedFault
        if isinstance(spec, Scale):
            fault = orchestrator.apply_scale(self, spec, fid)
        elif isinstance(spec, RollingRestart):
            fault = orchestrator.apply_rolling_restart(self, spec, fid)
        elif isinstance(spec, Drain):
            fault = orchestrator.apply_drain(self, spec, fid)
        else:
            tasks = self.picked(spec.target, spec.replicas)
            peers = self.picked(spec.peer, None) if isinstance(spec, Partition) else []
            fault = task_faults.apply_on_tasks(self, spec, fid, tasks, peers)
        if not isinstance(fault, NotApplied):
            deadman.watch(self.journal)
        return fault

    def sweep(self) -> list[str]:
        from chaos.backends.swarm.sweep import sweep_swarm

        done: list[str] = sweep_swarm(self)
        return done

    def undo(self, record: UndoRecord) -> str:
        if isinstance(record, SwarmRecord):
            return record.undo(self)
        return super().undo(record)

    def switch_resilience(self, mode: str) -> None:
        """Updates the services in place (the orchestrator replaces their tasks)."""
        try:
            self.engine.set_env("FAILWHALE_RESILIENCE", mode)
        except SwarmError as exc:
            raise FaultError(f"the swarm stack did not take resilience {mode}: {exc}") from exc

    # -- self-healing --------------------------------------------------------------------------

    def self_healing(self) -> str:
        return self.engine.self_healing()

    def set_self_healing(self, mode: str) -> list[str]:
        try:
            return self.engine.set_self_healing(mode)
        except SwarmError as exc:
            raise FaultError(f"self-healing {mode} could not be set: {exc}") from exc
