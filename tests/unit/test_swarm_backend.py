"""The swarm backend's target selection (slots, services, shares of replicas, other nodes), the
scenario fields and fault kinds it brings, and the refusals of the backends without an
orchestrator."""

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from chaos.backends.swarm.faults import TaskState
from chaos.backends.swarm.records import SlotHealthy
from chaos.backends.swarm.tasks import TargetError, Task, select, share, task_of
from chaos.journal import Journal
from chaos.scenario import (
    Kill,
    Latency,
    Partition,
    RollingRestart,
    Scale,
    ScenarioError,
    load_scenario,
    single_host_refusal,
)
from chaos.stack_mode import ModeError, self_healing_as

HERE, THERE = "node-a", "node-b"


def task(service: str, slot: int, node: str = HERE, state: str = "running") -> Task:
    return Task(service, slot, f"{service}-{slot}-{state}", f"c-{service}-{slot}", node, state,
                "running")  # fmt: skip


TASKS = [
    task("timeline", 2),
    task("timeline", 1),
    task("timeline", 3, state="failed"),
    task("posts", 1),
    task("posts", 2),
    task("posts", 3),
    task("posts", 4),
]


def test_a_compose_name_picks_its_slot_of_the_timeline_service() -> None:
    assert [t.slot for t in select(TASKS, "timeline-2", None, HERE)] == [2]
    assert [t.slot for t in select(TASKS, "timeline-1", None, HERE)] == [1]


def test_a_bare_service_picks_all_its_running_tasks_by_default() -> None:
    picked = select(TASKS, "timeline", None, HERE)
    assert [t.slot for t in picked] == [1, 2]  # the failed task of slot 3 is not running


@pytest.mark.parametrize(
    ("replicas", "slots"), [("one", [1]), ("all", [1, 2, 3, 4]), (0.5, [1, 2]), (0.3, [1, 2]),
                            (0.01, [1]), (1.0, [1, 2, 3, 4])],
)  # fmt: skip
def test_replicas_picks_one_all_or_a_share_rounded_up(
    replicas: str | float, slots: list[int]
) -> None:
    assert [t.slot for t in select(TASKS, "posts", replicas, HERE)] == slots


def test_share_of_no_task_is_none() -> None:
    assert share(0, "all") == 0 and share(0, 0.5) == 0


def test_a_slot_without_a_running_task_is_refused_by_name() -> None:
    without_two = [t for t in TASKS if (t.service, t.slot) != ("timeline", 2)]
    with pytest.raises(TargetError, match="no running task in slot 3 of service timeline"):
        select(without_two, "timeline-2", None, HERE)


def test_a_service_without_running_tasks_is_refused() -> None:
    with pytest.raises(TargetError, match="trends: the service has no running task"):
        select(TASKS, "trends", None, HERE)


def test_a_task_on_another_node_is_refused_with_the_reason() -> None:
    tasks = [task("timeline", 1), task("timeline", 2, node=THERE)]
    with pytest.raises(TargetError, match=r"timeline\.2 on node node-b runs on another node"):
        select(tasks, "timeline", "all", HERE)
    assert [t.slot for t in select(tasks, "timeline", "one", HERE)] == [1]
    assert [t.slot for t in select(tasks, "timeline", "all", None)] == [1, 2]


def test_a_task_is_read_from_the_docker_api_answer() -> None:
    raw = {"ID": "t1", "Slot": 2, "NodeID": "n1", "DesiredState": "running",
           "Status": {"State": "running", "ContainerStatus": {"ContainerID": "c9"}}}  # fmt: skip
    got = task_of("timeline", raw)
    assert got == Task("timeline", 2, "t1", "c9", "n1", "running", "running")
    assert got.running and got.label == "timeline.2"
    starting = task_of("timeline", {**raw, "Status": {"State": "starting"}})
    assert not starting.running and starting.container_id == ""


# -- scenario: new kinds and fields -----------------------------------------------------------


def write(tmp_path: Path, method: str, extra: str = "") -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: s\ndescription: d\nload: {users: 2, duration_s: 90}\n"
        f"{extra}method:\n{method}\nhypotheses:\n  - {{metric: lost_writes, max: 0}}\n"
    )
    return path


def test_the_new_kinds_and_fields_load(tmp_path: Path) -> None:
    scenario = load_scenario(
        write(
            tmp_path,
            "  - {fault: kill, target: timeline, replicas: one, at_s: 1, duration_s: 5}\n"
            "  - {fault: latency, target: posts, replicas: 0.5, delay_ms: 100, at_s: 1, "
            "duration_s: 5}\n"
            "  - {fault: scale, target: trends, to: 0, at_s: 1, duration_s: 5}\n"
            "  - {fault: rolling-restart, target: timeline, at_s: 10}\n"
            "  - {fault: drain, target: timeline-1, at_s: 1, duration_s: 5}",
            "self_healing: off\n",
        )
    )
    kill, latency, scale, rolling, _ = scenario.method
    assert isinstance(kill, Kill) and kill.replicas == "one"
    assert isinstance(latency, Latency) and latency.replicas == 0.5
    assert isinstance(scale, Scale) and scale.to == 0
    assert isinstance(rolling, RollingRestart) and rolling.duration_s == 60
    assert scenario.self_healing == "off"


def test_the_default_keeps_today_meaning_of_every_catalogue_target(tmp_path: Path) -> None:
    scenario = load_scenario(
        write(tmp_path, "  - {fault: kill, target: timeline-1, at_s: 1, duration_s: 5}")
    )
    assert scenario.method[0].replicas is None and scenario.self_healing is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("method", "extra", "line", "message"),
    [
        ("  - {fault: kill, target: timeline-1, replicas: one, at_s: 1, duration_s: 5}", "", 5,
         "timeline-1 is one task (slot 1 of timeline)"),
        ("  - {fault: kill, target: posts, replicas: 2, at_s: 1, duration_s: 5}", "", 5,
         "replicas"),
        ("  - {fault: kill, target: posts, replicas: some, at_s: 1, duration_s: 5}", "", 5,
         "replicas"),
        ("  - {fault: scale, target: timeline-2, to: 1, at_s: 1, duration_s: 5}", "", 5,
         "timeline-2 is one task: say target: timeline"),
        ("  - {fault: scale, target: posts, to: -1, at_s: 1, duration_s: 5}", "", 5, "to"),
        ("  - {fault: scale, target: posts, at_s: 1, duration_s: 5}", "", 5, "to: Field required"),
        ("  - {fault: kill, target: posts, at_s: 1, duration_s: 5}", "self_healing: maybe\n", 4,
         "self_healing"),
    ],
)  # fmt: skip
def test_wrong_new_fields_are_errors_with_file_and_line(
    tmp_path: Path, method: str, extra: str, line: int, message: str
) -> None:
    path = write(tmp_path, method, extra)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert f"{path}:{line}:" in str(caught.value)
    assert message in str(caught.value)


# -- refusals without an orchestrator ---------------------------------------------------------


def test_backends_without_an_orchestrator_refuse_its_faults() -> None:
    scale = Scale(fault="scale", target="trends", to=0, at_s=0, duration_s=5)
    assert single_host_refusal(scale) == (
        "scale is a fault only an orchestrator has: run it with --backend swarm"
    )
    rolling = RollingRestart(fault="rolling-restart", target="timeline", at_s=0)
    assert "rolling-restart is a fault only an orchestrator has" in str(
        single_host_refusal(rolling)
    )
    whole = Kill(fault="kill", target="timeline", at_s=0, duration_s=5)
    assert "say timeline-1 or timeline-2" in str(single_host_refusal(whole))
    peer = Partition(fault="partition", target="gateway", peer="timeline", at_s=0, duration_s=5)
    assert "say timeline-1 or timeline-2" in str(single_host_refusal(peer))
    half = Kill(fault="kill", target="posts", replicas=0.5, at_s=0, duration_s=5)
    assert "a share of replicas needs an orchestrator" in str(single_host_refusal(half))
    assert (
        single_host_refusal(Kill(fault="kill", target="timeline-1", at_s=0, duration_s=5)) is None
    )
    assert single_host_refusal(Kill(fault="kill", target="posts", replicas="one", at_s=0,
                                    duration_s=5)) is None  # fmt: skip


# -- who replaced a killed task ---------------------------------------------------------------


class FakeSwarm:
    """In process: a slot that runs a new task once `replaced` is set, a revert that says
    whether it had to force one."""

    def __init__(self, journal: Journal, revert_says: str) -> None:
        self.journal, self.revert_says = journal, revert_says
        self.replaced = threading.Event()

    def healthy_in_slot(self, service: str, slot: int) -> Task | None:
        return task(service, slot, state="running") if self.replaced.is_set() else None

    def slot_back(self, service: str, slot: int, dead_task: str) -> str:
        self.replaced.set()
        return self.revert_says


@pytest.mark.parametrize(
    ("replaced_before_revert", "revert_says", "by"),
    [(True, "timeline.1 runs task abc healthy", "orchestrator"),
     (False, "timeline.1 runs task abc healthy", "orchestrator"),
     (False, "timeline.1 given a new task by a forced update, converged in 3.0 s", "revert")],
)  # fmt: skip
def test_a_replacement_is_the_orchestrator_unless_the_revert_forced_it(
    tmp_path: Path, replaced_before_revert: bool, revert_says: str, by: str
) -> None:
    swarm = FakeSwarm(Journal(tmp_path / "j.json", {}), revert_says)
    dead = Task("timeline", 1, "old", "c-old", HERE, "running", "running")
    record = SlotHealthy(service="timeline", slot=1, task="old", container="c-old")
    spec = Kill(fault="kill", target="timeline-1", at_s=0, duration_s=5)
    fault = TaskState(spec, "f1", swarm, dead, None, record, time.time())  # type: ignore[arg-type]
    if replaced_before_revert:
        swarm.replaced.set()
        deadline = time.monotonic() + 5
        while fault.replacement is None and time.monotonic() < deadline:
            time.sleep(0.05)
    fault.revert()
    [replaced] = fault.window(0).figures["replaced"]
    assert (replaced["task"], replaced["by"]) == ("timeline.1", by)


def test_a_compose_name_follows_the_slots_a_scale_down_left() -> None:
    # Scaled to 3 and back to 2: the orchestrator removed slot 2, slots 1 and 3 remain.
    removed = Task("timeline", 2, "t2", "c2", HERE, "complete", "remove", version=40)
    older = Task("timeline", 2, "t2-old", "c2o", HERE, "failed", "shutdown", version=10)
    tasks = [task("timeline", 1), task("timeline", 3), removed, older]
    assert [t.slot for t in select(tasks, "timeline-1", None, HERE)] == [1]
    assert [t.slot for t in select(tasks, "timeline-2", None, HERE)] == [3]


def test_a_dead_slot_keeps_its_place_while_its_task_is_replaced() -> None:
    # Slot 1's task was killed and its replacement is still starting: timeline-2 stays slot 2.
    dead = Task("timeline", 1, "t1", "c1", HERE, "failed", "shutdown", version=50)
    starting = Task("timeline", 1, "t1b", "c1b", HERE, "starting", "running", version=51)
    tasks = [dead, starting, task("timeline", 2)]
    assert [t.slot for t in select(tasks, "timeline-2", None, HERE)] == [2]
    with pytest.raises(TargetError, match="no running task in slot 1"):
        select(tasks, "timeline-1", None, HERE)


# -- self-healing switched for a scenario and back ------------------------------------------


class Status(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"resilience": "on"}'
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


class FakeOrchestrator:
    """In process: a stack whose self-healing is a setting, with a gateway that answers."""

    name = "swarm"

    def __init__(self, url: str, healing: str) -> None:
        self.gateway_url, self.healing = url, healing
        self.switched: list[str] = []

    def self_healing(self) -> str:
        return self.healing

    def set_self_healing(self, mode: str) -> list[str]:
        self.healing = mode
        self.switched.append(mode)
        return ["timeline"]


@pytest.fixture
def gateway() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Status)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_scenario_self_healing_is_set_for_its_run_and_put_back(gateway: str) -> None:
    stack = FakeOrchestrator(gateway, "on")
    with self_healing_as(stack, "off"):  # type: ignore[arg-type]
        assert stack.healing == "off"
    assert stack.switched == ["off", "on"]
    with self_healing_as(stack, "on"):  # type: ignore[arg-type]
        pass
    assert stack.switched == ["off", "on"]  # already on: nothing switched
    with self_healing_as(stack, None):  # type: ignore[arg-type]
        pass
    assert stack.switched == ["off", "on"]


def test_a_backend_without_an_orchestrator_cannot_require_self_healing(gateway: str) -> None:
    from chaos.backends.docker.driver import DockerBackend

    class Compose:
        name, gateway_url = "docker", gateway
        self_healing = DockerBackend.self_healing
        set_self_healing = DockerBackend.set_self_healing

    with pytest.raises(ModeError, match="self-healing"), self_healing_as(Compose(), "on"):  # type: ignore[arg-type]
        pass


def versioned(slot: int, version: int, desired: str, state: str) -> Task:
    return Task("timeline", slot, f"t{slot}-{version}", f"c{slot}-{version}", HERE, state, desired,
                version)  # fmt: skip


def test_a_slot_a_scale_down_removed_is_not_named_after_its_task_is_forgotten() -> None:
    # slot 1 was killed once (its replacement got version 5), then a scale from 3 back to 2
    # removed slot 1's task, which the engine then forgot: only the killed task is left of it.
    tasks = [
        versioned(1, 3, "shutdown", "failed"),
        versioned(2, 4, "running", "running"),
        versioned(3, 7, "running", "running"),
    ]
    assert [t.slot for t in select(tasks, "timeline-1", None, HERE, 2)] == [2]
    assert [t.slot for t in select(tasks, "timeline-2", None, HERE, 2)] == [3]


def test_a_slot_killed_without_a_replacement_keeps_its_name() -> None:
    # self-healing off: slot 1's task died and the engine started none in its place
    tasks = [versioned(1, 8, "shutdown", "failed"), versioned(2, 4, "running", "running")]
    with pytest.raises(TargetError, match="no running task in slot 1"):
        select(tasks, "timeline-1", None, HERE, 2)
    assert [t.slot for t in select(tasks, "timeline-2", None, HERE, 2)] == [2]
