"""Check 10: chaos stays inside its compose project. A chaos run on the docker backend is
SIGKILLed in the middle of its faults and `failwhale chaos sweep` cleans up after it, while
decoy containers outside the project look on: no action touches a container outside the
project, and nothing of the faults is left after the sweep."""

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from docker.client import DockerClient, from_env
from docker.models.containers import Container

from chaos.backends.docker.driver import DockerBackend
from chaos.backends.docker.helpers import HELPER_IMAGE
from chaos.journal import Journal
from reliability.chaos_leftovers import count, leftovers
from reliability.check import Check, Outcome, SuiteContext
from reliability.compose_project import ROOT, ComposeProject
from reliability.docker_events import EventWatch, trespasses, unowned

PROJECT = "failwhale-rel"
# The console script beside this interpreter (the virtualenv's), else the same entry point.
_SCRIPT = Path(sys.executable).parent / "failwhale"
FAILWHALE = (
    [str(_SCRIPT)]
    if _SCRIPT.exists()
    else [sys.executable, "-c", "import sys; from failwhale.cli import main; sys.exit(main())"]
)
DECOY_IMAGE = HELPER_IMAGE  # built by `make images` on both image paths
APPLIED_TIMEOUT_S = 90.0
SWEEP_TIMEOUT_S = 120.0
FAULT_S = 120  # far longer than the check: only the sweep may undo them
SCENARIO = {
    "name": "containment",
    "description": "Four faults held while the runner is killed (reliability check 10).",
    "load": {"users": 2, "duration_s": FAULT_S + 10, "accounts": 4},
    "method": [
        {"fault": "pause", "target": "trends", "at_s": 0, "duration_s": FAULT_S},
        {"fault": "kill", "target": "dms", "at_s": 0, "duration_s": FAULT_S},
        {"fault": "latency", "target": "posts", "at_s": 0, "duration_s": FAULT_S, "delay_ms": 200},
        {
            "fault": "partition",
            "target": "gateway",
            "peer": "timeline-1",
            "at_s": 0,
            "duration_s": FAULT_S,
        },
    ],
    "hypotheses": [{"metric": "lost_writes", "max": 0}],
}


def run(context: SuiteContext) -> Outcome:
    scratch = context.scratch("containment")
    client = from_env()
    stack = ComposeProject(PROJECT, scratch)
    journal = Journal.for_scope("docker", PROJECT)
    decoys: list[Container] = []
    runner: subprocess.Popen[bytes] | None = None
    watch = EventWatch(PROJECT)
    laps = Laps()
    try:
        stack.down()  # whatever a crashed earlier run of this check left
        journal.path.unlink(missing_ok=True)
        decoys = start_decoys(client)
        context.progress(f"compose project {PROJECT} starting")
        stack.up()
        laps.mark("compose up")
        project_ids = stack.container_ids()
        guarded = {d.id for d in decoys} | {
            c.id for c in client.containers.list(all=True)
            if c.id not in project_ids and unowned(c.labels)
        }  # fmt: skip
        started = {d.id: d.attrs["State"]["StartedAt"] for d in decoys}
        watch.start()
        context.progress("chaos run started; it is killed once its faults are in place")
        runner = start_runner(scratch, stack)
        applied = wait_applied(journal, runner, len(SCENARIO["method"]))
        os.kill(runner.pid, signal.SIGKILL)
        runner.wait(10)
        laps.mark("runner until its faults were in place")
        backend = DockerBackend(PROJECT, journal)
        try:
            # Enough to show the sweep has work to do; the full scan is for what it leaves.
            left_by_runner = leftovers(backend, namespaces=False)
            laps.mark("scan before the sweep")
            context.progress("failwhale chaos sweep")
            swept = sweep(stack)
            laps.mark("sweep")
            left_after = leftovers(backend)
            laps.mark("scan after the sweep")
        finally:
            backend.client.close()
        project_ids |= stack.container_ids()
        watch.stop()
        decoys_state = decoy_changes(decoys, started)
    finally:
        watch.stop()
        if runner is not None and runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
            runner.wait(10)
        stack.down()
        for decoy in decoys:
            decoy.remove(force=True)
        for suffix in (".json", ".lock"):  # the journal and its file lock: ours alone
            journal.path.with_suffix(suffix).unlink(missing_ok=True)
        client.close()
        laps.mark("compose down")
    seen = trespasses(watch.events, watch.helper_targets, guarded, project_ids, PROJECT)
    actions = seen.count + len(decoys_state)
    faults_left = count(left_after)
    problems = []
    if applied < len(SCENARIO["method"]):
        problems.append(f"only {applied} faults were in place when the runner was killed")
    if count(left_by_runner) == 0:
        problems.append("the killed runner left nothing behind: the sweep was not put to work")
    if swept.returncode != 0:
        problems.append(f"failwhale chaos sweep exited {swept.returncode}")
    figure = (
        f"actions on containers outside the project {actions} ({len(watch.events)} container "
        f"events watched, {len(guarded)} guarded, {len(watch.helper_targets)} helpers checked), "
        f"faults left after sweep {faults_left} (the runner was killed holding {applied} "
        f"faults; it left {count(left_by_runner)} containers stopped, paused or helping, besides "
        f"its rules)"
    )
    return Outcome(
        figure,
        passed=actions == 0 and faults_left == 0 and not problems,
        measured={
            "faults_applied_when_killed": applied,
            "left_by_runner": left_by_runner,
            "left_after_sweep": left_after,
            "sweep_output": swept.stdout[-3000:],
            "events": len(watch.events),
            "on_guarded": [f"{e.action} {e.name}" for e in seen.on_guarded],
            "helpers_outside": seen.helpers_outside,
            "helpers_not_inspected": seen.helpers_unseen,
            "decoys_changed": decoys_state,
            "neighbour_events_not_attributed": seen.neighbours,
            "phase_s": laps.seconds,
        },
        notes="; ".join(problems),
    )


class Laps:
    """How long each phase took (the check has a time budget in CI)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.monotonic()

    def mark(self, phase: str) -> None:
        now = time.monotonic()
        self.seconds[phase] = round(now - self._last, 1)
        self._last = now


def start_decoys(client: DockerClient) -> list[Container]:
    """A plain container, and a paused one that looks like a service (and a chaos helper) of
    another compose project: neither is ours to touch, unpause or remove."""
    tag = secrets.token_hex(3)
    disguise = {
        "com.docker.compose.project": f"{PROJECT}-bystander",
        "com.docker.compose.service": "posts",
        "failwhale.chaos.helper": "1",
        "failwhale.chaos.project": f"{PROJECT}-bystander",
    }
    run: dict[str, Any] = {"detach": True, "command": ["sleep", "600"]}
    plain = client.containers.run(DECOY_IMAGE, name=f"{PROJECT}-decoy-{tag}", **run)
    disguised = client.containers.run(
        DECOY_IMAGE, name=f"{PROJECT}-bystander-{tag}", labels=disguise, **run
    )
    disguised.pause()
    for decoy in (plain, disguised):
        decoy.reload()
    return [plain, disguised]


def decoy_changes(decoys: list[Container], started: dict[str, str]) -> list[str]:
    expected = ["running", "paused"]
    changed = []
    for decoy, status in zip(decoys, expected, strict=True):
        decoy.reload()
        began = decoy.attrs["State"]["StartedAt"]
        if decoy.status != status or began != started[decoy.id]:
            changed.append(f"{decoy.name}: {decoy.status}, started {began}")
    return changed


def start_runner(scratch: Path, stack: ComposeProject) -> subprocess.Popen[bytes]:
    scenario = scratch / "containment.json"  # JSON is YAML: the runner reads it as it is
    scenario.write_text(json.dumps(SCENARIO))
    env = stack.env | {"FAILWHALE_CHAOS_DEADMAN": "off"}  # the sweep alone must clean up
    command = [*FAILWHALE, "chaos", "run", str(scenario), "--backend", "docker",
               "--out", str(scratch / "run")]  # fmt: skip
    with (scratch / "runner.log").open("wb") as log:
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip


def wait_applied(journal: Journal, runner: subprocess.Popen[bytes], wanted: int) -> int:
    """How many faults the journal says are in place, once all are or the deadline passed."""
    deadline = time.monotonic() + APPLIED_TIMEOUT_S
    applied = 0
    while time.monotonic() < deadline and runner.poll() is None:
        if journal.path.exists():
            applied = sum(e.state == "applied" for e in Journal.open(journal.path).entries())
            if applied >= wanted:
                return applied
        time.sleep(0.5)
    return applied


def sweep(stack: ComposeProject) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FAILWHALE, "chaos", "sweep", "--backend", "docker"],
        cwd=ROOT, env=stack.env, capture_output=True, text=True, timeout=SWEEP_TIMEOUT_S,
    )  # fmt: skip


CHECKS = [
    Check(
        10,
        "chaos containment",
        "a chaos run on the docker backend, SIGKILLed mid-fault, then swept: no action on a "
        "container outside its compose project, and no fault left behind after the sweep",
        run,
        needs_docker=True,
    )
]
