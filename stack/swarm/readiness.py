"""Waiting for a stack: every service with all its replicas running (a task with a healthcheck
counts as running only once it is healthy), with a status line as it goes and, at the deadline,
the services still short of replicas with the error of their latest task."""

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from stack.swarm.cluster import Say, SwarmError, docker

UPDATING = frozenset({"updating", "rollback_started"})
FAILED_UPDATE = frozenset({"rollback_completed", "rollback_paused", "paused"})


@dataclass(frozen=True)
class ServiceState:
    name: str  # without the stack's prefix
    running: int
    desired: int
    update: str = ""  # the rolling update's state, when there was one

    @property
    def ready(self) -> bool:
        return self.desired > 0 and self.running >= self.desired and self.update not in UPDATING


def parse_replicas(line: str, stack: str) -> ServiceState:
    """`<stack>_<name> <running>/<desired>[ (max ...)]` from `docker service ls`."""
    full, replicas = line.split()[:2]
    running, _, desired = replicas.partition("/")
    return ServiceState(full.removeprefix(f"{stack}_"), int(running), int(desired))


def service_states(stack: str) -> list[ServiceState]:
    out = docker(
        "service",
        "ls",
        "--filter",
        f"label=com.docker.stack.namespace={stack}",
        "--format",
        "{{.Name}} {{.Replicas}}",
    )
    states = [parse_replicas(line, stack) for line in out.splitlines() if line.strip()]
    if not states:
        return []
    updates = docker(
        "service",
        "inspect",
        "--format",
        "{{.Spec.Name}} {{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}",
        *(f"{stack}_{state.name}" for state in states),
    )
    update = dict([*line.split(), ""][:2] for line in updates.splitlines() if line.strip())
    return sorted(
        (replace(state, update=update.get(f"{stack}_{state.name}", "")) for state in states),
        key=lambda state: state.name,
    )


def task_problem(stack: str, service: str) -> str:
    """The latest task's state and error, e.g. `starting 40 seconds ago` or `rejected: no such
    image`; what a user needs to see why a service is short."""
    out = docker(
        "service",
        "ps",
        f"{stack}_{service}",
        "--no-trunc",
        "--format",
        "{{.CurrentState}}|{{.Error}}",
        check=False,
    )
    lines = [line for line in out.splitlines() if line.strip()]
    if not lines:
        return "no task"
    state, _, error = lines[0].partition("|")
    return f"{state}: {error}" if error else state


def wait_ready(
    stack: str,
    expected: set[str],
    timeout_s: float,
    say: Say,
    *,
    states: Callable[[str], list[ServiceState]] = service_states,
    interval_s: float = 3.0,
    settle_s: float = 3.0,
) -> float:
    """Returns the seconds it took once every expected service is ready; SwarmError naming
    the stuck services and their tasks' errors after `timeout_s`, or a rolled back update.
    Nothing counts before `settle_s`: the orchestrator starts a deploy's rolling updates a moment
    after the deploy returns, and the replicas counted before are the old ones."""
    start = time.monotonic()
    last = ""
    while True:
        current = {state.name: state for state in states(stack)}
        rolled_back = sorted(n for n, state in current.items() if state.update in FAILED_UPDATE)
        if rolled_back:
            details = "; ".join(f"{n}: {task_problem(stack, n)}" for n in rolled_back)
            raise SwarmError(f"the update of {', '.join(rolled_back)} failed ({details})")
        short = sorted(name for name in expected if name not in current or not current[name].ready)
        waited = time.monotonic() - start
        if not short and waited >= settle_s:
            return waited
        summary = ", ".join(
            f"{name} {current[name].running}/{current[name].desired}"
            if name in current
            else f"{name} absent"
            for name in short
        )
        if waited >= timeout_s:
            details = "; ".join(f"{name}: {task_problem(stack, name)}" for name in short)
            raise SwarmError(f"not ready after {timeout_s:.0f} s: {summary} ({details})")
        line = f"{len(expected) - len(short)}/{len(expected)} services ready; waiting for {summary}"
        if line != last:
            say(f"{line} ({waited:.0f} s)")
            last = line
        time.sleep(interval_s)


def _describe(name: str, state: ServiceState | None) -> str:
    if state is None:
        return f"{name} absent"
    updating = f" {state.update}" if state.update in UPDATING else ""
    return f"{name} {state.running}/{state.desired}{updating}"
