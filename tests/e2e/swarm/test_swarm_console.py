"""The chaos console on the swarm stack, as the browser's page calls it: through the Locust
master (published by the edge relay) to the chaos agent (a service on a manager, driving the
swarm backend): a hand kill of timeline-1 takes effect on its task, is listed with its time left,
and a revert brings the slot back; the agent itself publishes nothing."""

import time
from typing import Any

import httpx
import pytest

from chaos.backends.swarm.driver import SwarmBackend
from tests.e2e.swarm.conftest import SwarmStack, docker

pytestmark = [pytest.mark.e2e, pytest.mark.swarm, pytest.mark.timeout(600)]

WRITE = {"Content-Type": "application/json", "X-Failwhale-Console": "1"}


def state(ui: httpx.Client) -> dict[str, Any]:
    answer = ui.get("/chaos/api/agent/state")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def wait_for(ui: httpx.Client, ready: Any, timeout_s: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        seen = state(ui)
        if ready(seen):
            return seen
        assert time.monotonic() < deadline, f"not there after {timeout_s} s: {seen}"
        time.sleep(1)


def test_a_hand_fault_from_the_console_acts_on_a_swarm_task(
    swarm_stack: SwarmStack, backend: SwarmBackend
) -> None:
    agent = swarm_stack.service("chaos-agent")
    ports = docker("service", "inspect", agent, "--format", "{{json .Endpoint.Ports}}").strip()
    assert ports in ("null", "[]"), ports  # reached only over the stack's network
    with httpx.Client(base_url=swarm_stack.locust_url, timeout=60) as ui:
        first = wait_for(ui, lambda s: "timeline-1" in s["targets"])
        assert first["backend"] == "swarm"
        backend.engine.wait_converged("timeline")
        [slot] = backend.picked("timeline-1", None)  # slot 1, or the first slot left by a scale
        body = {"fault": "kill", "target": "timeline-1", "duration_s": 60}
        applied = ui.post("/chaos/api/agent/faults", json=body, headers=WRITE)
        assert applied.status_code == 201, applied.text
        fault_id = applied.json()["id"]

        def listed(seen: dict[str, Any]) -> dict[str, Any]:
            return next(f for f in seen["faults"] if f["id"] == fault_id)

        shown = listed(wait_for(ui, lambda s: listed(s)["took_effect"]))
        assert slot.label in shown["evidence"] and 0 < shown["left_s"] <= 60
        reverted = ui.delete(f"/chaos/api/agent/faults/{fault_id}", headers=WRITE)
        assert reverted.status_code == 200, reverted.text
        assert reverted.json()["ended_at"] is not None and reverted.json()["revert_evidence"]
        refused = ui.post("/chaos/api/agent/faults", json=body)  # no console header
        assert refused.status_code == 403
