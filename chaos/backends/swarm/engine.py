"""What the swarm backend asks of the orchestrator itself, through the Docker API: the stack's
services and their tasks, replica counts, forced updates, restart policies (self-healing), node
availability, and waiting until a service has converged."""

import time
from typing import Any

from docker.client import DockerClient
from docker.errors import APIError, NotFound
from docker.models.services import Service

from chaos.backends.swarm.tasks import STACK_LABEL, Task, task_of

CONVERGE_TIMEOUT_S = 180.0
SCALED_LABEL = "failwhale.chaos.replicas-before"
DRAINED_LABEL = "failwhale.chaos.drained"
POLL_S = 0.5
# Self-healing as a restart policy condition: the orchestrator replaces a dead task, or not.
HEALING = {"on": "any", "off": "none"}


class SwarmError(RuntimeError):
    """The orchestrator refused or did not converge; the message says which service and why."""


def replica_count(service: Service) -> int:
    """The replicas a service is to run, as its spec says."""
    mode = service.attrs["Spec"]["Mode"]
    return int((mode.get("Replicated") or {}).get("Replicas", 1))


class SwarmStack:
    """The services of one stack (`com.docker.stack.namespace=<stack>`), nothing else."""

    def __init__(self, client: DockerClient, stack: str) -> None:
        self.client, self.stack = client, stack

    def services(self) -> dict[str, Service]:
        """Short service name (timeline, posts, ...) -> service."""
        found = self.client.services.list(filters={"label": f"{STACK_LABEL}={self.stack}"})
        prefix = f"{self.stack}_"
        return {s.name.removeprefix(prefix): s for s in found}

    def service(self, name: str) -> Service:
        found = self.services().get(name)
        if found is None:
            raise SwarmError(f"no service {name} in stack {self.stack}")
        return found

    def tasks(self, name: str | None = None) -> list[Task]:
        services = self.services()
        chosen = {name: services[name]} if name is not None and name in services else services
        if name is not None and name not in services:
            return []
        found: list[Task] = []
        for short, service in chosen.items():
            for raw in self.client.api.tasks(filters={"service": service.id}):
                found.append(task_of(short, raw))
        return found

    def local_node(self) -> str:
        return str(self.client.info()["Swarm"]["NodeID"])

    def nodes(self) -> list[dict[str, Any]]:
        return [n.attrs for n in self.client.nodes.list()]

    # -- replicas ----------------------------------------------------------------------------

    def replicas(self, name: str) -> int:
        return replica_count(self.service(name))

    def scale(self, name: str, replicas: int, remember: int | None = None) -> None:
        """The service to `replicas`; `remember` (the count before a fault) goes in a label on
        the service, which a sweep reads when no journal is left, and None removes it."""

        def apply(service: Service) -> None:
            labels = dict(service.attrs["Spec"].get("Labels") or {})
            labels.pop(SCALED_LABEL, None)
            if remember is not None:
                labels[SCALED_LABEL] = str(remember)
            self.client.api.update_service(
                service.id,
                service.version,
                mode={"Replicated": {"Replicas": replicas}},
                labels=labels,
                fetch_current_spec=True,
            )

        self._update(name, apply)

    def scaled_by_chaos(self) -> dict[str, int]:
        """Services a scale fault left with their count before it (their label)."""
        found = {}
        for name, service in self.services().items():
            remembered = (service.attrs["Spec"].get("Labels") or {}).get(SCALED_LABEL)
            if remembered is not None and remembered.isdigit():
                found[name] = int(remembered)
        return found

    def force_update(self, name: str) -> None:
        """Every task of the service replaced (`docker service update --force`)."""
        self._update(name, lambda s: s.force_update())

    def update_state(self, name: str) -> str:
        status = self.service(name).attrs.get("UpdateStatus") or {}
        return str(status.get("State") or "")

    def running(self, name: str) -> list[Task]:
        return [t for t in self.tasks(name) if t.running]

    def converged(self, name: str) -> bool:
        """As many running tasks as replicas wanted, and no update under way."""
        wanted = self.replicas(name)
        return len(self.running(name)) == wanted and self.update_state(name) != "updating"

    def wait_converged(self, name: str, timeout_s: float = CONVERGE_TIMEOUT_S) -> float:
        """Seconds until the service converged; SwarmError after `timeout_s`."""
        began = time.monotonic()
        while time.monotonic() - began < timeout_s:
            if self.converged(name):
                return time.monotonic() - began
            time.sleep(POLL_S)
        running, wanted = len(self.running(name)), self.replicas(name)
        raise SwarmError(
            f"{name}: {running}/{wanted} tasks running after {timeout_s:.0f} s "
            f"(update: {self.update_state(name) or 'none'})"
        )

    # -- self-healing --------------------------------------------------------------------------

    def restart_conditions(self) -> dict[str, str]:
        found = {}
        for name, service in self.services().items():
            policy = service.attrs["Spec"]["TaskTemplate"].get("RestartPolicy") or {}
            found[name] = str(policy.get("Condition") or "any")
        return found

    def self_healing_of(self, name: str) -> str:
        """on when the service's tasks are restarted whatever ended them, else off."""
        return "on" if self.restart_conditions().get(name) == HEALING["on"] else "off"

    def self_healing(self) -> str:
        """on (every service restarts any dead task), off (none does), or mixed."""
        conditions = set(self.restart_conditions().values())
        if conditions == {HEALING["on"]}:
            return "on"
        return "off" if conditions == {HEALING["off"]} else "mixed"

    def set_self_healing(self, mode: str) -> list[str]:
        """Each service whose restart condition differs is updated (its tasks are replaced, one
        after another); returns the services changed, once they have converged."""
        condition = HEALING[mode]
        changed = [n for n, c in self.restart_conditions().items() if c != condition]
        for name in changed:

            def apply(service: Service) -> None:
                template = dict(service.attrs["Spec"]["TaskTemplate"])
                policy = dict(template.get("RestartPolicy") or {})
                template["RestartPolicy"] = policy | {"Condition": condition}
                self.client.api.update_service(
                    service.id, service.version, task_template=template, fetch_current_spec=True
                )

            self._update(name, apply)
        for name in changed:
            self.wait_converged(name)
        return changed

    def set_env(self, variable: str, value: str) -> list[str]:
        """`variable=value` in the environment of every service that has the variable (their
        tasks are replaced); returns the services changed, once they have converged."""
        changed = []
        for name, service in self.services().items():
            env = service.attrs["Spec"]["TaskTemplate"]["ContainerSpec"].get("Env") or []
            if not any(e.startswith(f"{variable}=") for e in env) or f"{variable}={value}" in env:
                continue

            def apply(service: Service) -> None:
                template = dict(service.attrs["Spec"]["TaskTemplate"])
                spec = dict(template["ContainerSpec"])
                kept = [e for e in spec.get("Env") or [] if not e.startswith(f"{variable}=")]
                template["ContainerSpec"] = spec | {"Env": [*kept, f"{variable}={value}"]}
                self.client.api.update_service(
                    service.id, service.version, task_template=template, fetch_current_spec=True
                )

            self._update(name, apply)
            changed.append(name)
        for name in changed:
            self.wait_converged(name)
        return changed

    # -- nodes ---------------------------------------------------------------------------------

    def availability(self, node_id: str) -> str:
        return str(self.client.nodes.get(node_id).attrs["Spec"].get("Availability", "active"))

    def set_availability(self, node_id: str, availability: str) -> None:
        """A drain carries a label naming the stack, by which a sweep finds the node again."""
        node = self.client.nodes.get(node_id)
        spec = dict(node.attrs["Spec"])
        labels = dict(spec.get("Labels") or {})
        labels.pop(DRAINED_LABEL, None)
        if availability == "drain":
            labels[DRAINED_LABEL] = self.stack
        node.update(spec | {"Availability": availability, "Labels": labels})

    def drained_by_chaos(self) -> list[str]:
        return [
            n["ID"]
            for n in self.nodes()
            if (n["Spec"].get("Labels") or {}).get(DRAINED_LABEL) == self.stack
        ]

    def _update(self, name: str, change: Any) -> None:
        """One change to a service's spec; retried once when another update came first (the
        spec's version moved on)."""
        for attempt in (1, 2):
            service = self.service(name)
            try:
                change(service)
                return
            except NotFound as exc:
                raise SwarmError(f"{name} is gone from stack {self.stack}") from exc
            except APIError as exc:
                if attempt == 2 or "out of sequence" not in str(exc):
                    raise SwarmError(f"updating {name} was refused: {exc}") from exc
