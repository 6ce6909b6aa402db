"""What the Docker daemon reports about containers while a check runs (`docker events`), and
which of those events touched a container outside the compose project under test.

The daemon is shared (other people's stacks run beside ours) and events do not say who caused
them. So the watch guards the containers nobody else has a reason to touch: our decoys, and
every container present at the start that belongs to no compose project and no chaos run;
events on other projects' containers are counted apart, as the neighbours' own business. The
helpers a chaos run starts are checked too: each must join a container of the project."""

import json
import subprocess
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

COMPOSE_PROJECT = "com.docker.compose.project"
HELPER_LABEL = "failwhale.chaos.helper"
HELPER_PROJECT_LABEL = "failwhale.chaos.project"
STOP_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class ContainerEvent:
    action: str
    container: str
    name: str
    labels: Mapping[str, str]
    time: float


def parse_event(line: str) -> ContainerEvent | None:
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("Type") != "container":
        return None
    actor = data.get("Actor") or {}
    attributes: dict[str, str] = dict(actor.get("Attributes") or {})
    return ContainerEvent(
        action=str(data.get("Action", "")),
        container=str(actor.get("ID", "")),
        name=attributes.get("name", ""),
        labels=attributes,
        time=float(data.get("timeNano", 0)) / 1e9,
    )


def unowned(labels: Mapping[str, str]) -> bool:
    """A container of no compose project and no chaos run: nobody's stack."""
    return COMPOSE_PROJECT not in labels and HELPER_PROJECT_LABEL not in labels


@dataclass
class EventWatch:
    """`docker events` for containers, from `start` to `stop`. Helpers that a chaos run of
    `project` creates are inspected as they appear: `helper_targets` maps each to the
    container whose network namespace it joined ('' when it was gone before it could be)."""

    project: str
    events: list[ContainerEvent] = field(default_factory=list)
    helper_targets: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            ["docker", "events", "--format", "{{json .}}", "--filter", "type=container"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, name="docker-events", daemon=True)
        self._reader.start()
        time.sleep(0.5)  # `docker events` subscribes asynchronously

    def stop(self) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        time.sleep(1.0)  # the daemon reports with a small delay: let the last events arrive
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(STOP_TIMEOUT_S)
        if self._reader is not None:
            self._reader.join(STOP_TIMEOUT_S)

    def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            event = parse_event(line)
            if event is None:
                continue
            self.events.append(event)
            ours = event.labels.get(HELPER_PROJECT_LABEL) == self.project
            if event.action == "create" and ours and HELPER_LABEL in event.labels:
                self.helper_targets[event.container] = _network_target(event.container)


def _network_target(container: str) -> str:
    inspected = subprocess.run(
        ["docker", "inspect", "-f", "{{.HostConfig.NetworkMode}}", container],
        capture_output=True,
        text=True,
        timeout=10,
    )
    mode = inspected.stdout.strip()
    # A helper joins a container's namespace ("container:<id>"), or a network by its name (a
    # prober on the project's network).
    return mode.removeprefix("container:") if mode.startswith("container:") else f"network:{mode}"


@dataclass(frozen=True)
class Trespasses:
    on_guarded: list[ContainerEvent]  # events on a guarded container (decoys, unowned ones)
    helpers_outside: list[str]  # helpers that joined a namespace or network outside it
    helpers_unseen: int  # helpers gone before they could be inspected
    neighbours: int  # events on other compose projects' containers (not attributable)

    @property
    def count(self) -> int:
        return len(self.on_guarded) + len(self.helpers_outside)


def trespasses(
    events: Iterable[ContainerEvent],
    helper_targets: Mapping[str, str],
    guarded: set[str],
    project_ids: set[str],
    project: str,
) -> Trespasses:
    """Sorts what the watch saw. `guarded` and `project_ids` are full container ids."""
    on_guarded: list[ContainerEvent] = []
    neighbours = 0
    for event in events:
        if event.container in guarded:
            on_guarded.append(event)
        elif event.container not in project_ids and event.labels.get(COMPOSE_PROJECT, project) != (
            project
        ):
            neighbours += 1
    outside = [
        f"{helper[:12]} joined {target}"
        for helper, target in helper_targets.items()
        if target and not _inside(target, project_ids, project)
    ]
    unseen = sum(1 for target in helper_targets.values() if target in ("", "network:"))
    return Trespasses(on_guarded, outside, unseen, neighbours)


def _inside(target: str, project_ids: set[str], project: str) -> bool:
    if target.startswith("network:"):
        network = target.removeprefix("network:")
        # '' is a helper gone before it was inspected; "none" a namespace of its own (the netem
        # probe); compose names a project's networks "<project>_<network>"
        return network in ("", "none") or network.startswith(f"{project}_")
    return target in project_ids
