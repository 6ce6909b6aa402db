"""Figures only an orchestrator's run has, from what its faults measured: the time from a task's
death to its replacement running healthy (per killed task, and p50/max over those the
orchestrator replaced by itself), how many tasks were replaced, and the requests that failed
while a rolling restart replaced a service's tasks."""

import statistics
from typing import Any

from pydantic import BaseModel, ConfigDict

from chaos.observation import Observation


class Replacement(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    task: str  # service.slot
    kind: str  # the fault that ended the task
    seconds: float
    by: str  # orchestrator (self-healing) or revert (forced at the fault's end)


class ReplacementTimes(BaseModel):
    """Over the replacements the orchestrator made by itself (self-healing on)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    count: int
    p50_s: float | None
    max_s: float | None


class RollingRestart(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    service: str
    tasks_replaced: int
    seconds: float | None  # from the forced update to every replica running again
    requests: int  # answered while it went on (the fault window)
    errors: int


def replacements(obs: Observation) -> list[Replacement]:
    return [
        Replacement.model_validate(item)
        for fault in obs.faults
        for item in fault.figures.get("replaced", [])
    ]


def replacement_times(obs: Observation) -> ReplacementTimes | None:
    found = replacements(obs)
    if not found:
        return None
    by_itself = [r.seconds for r in found if r.by == "orchestrator"]
    return ReplacementTimes(
        count=len(by_itself),
        p50_s=round(statistics.median(by_itself), 3) if by_itself else None,
        max_s=round(max(by_itself), 3) if by_itself else None,
    )


def rolling_restarts(obs: Observation) -> list[RollingRestart]:
    found = []
    for fault in obs.faults:
        figures: dict[str, Any] | None = fault.figures.get("rolling_restart")
        if figures is None:
            continue
        end = fault.end_s if fault.end_s is not None else obs.duration_s
        inside = [r for r in obs.requests if fault.start_s <= r.t <= end]
        found.append(
            RollingRestart(
                service=str(figures["service"]),
                tasks_replaced=int(figures["tasks_replaced"]),
                seconds=figures.get("seconds"),
                requests=len(inside),
                errors=sum(1 for r in inside if r.outcome == "error"),
            )
        )
    return found


def tasks_replaced(obs: Observation) -> int | None:
    """Tasks replaced by the orchestrator or a revert, and by rolling restarts; None when the
    run had no fault that replaces tasks."""
    found, rolling = replacements(obs), rolling_restarts(obs)
    if not found and not rolling:
        return None
    return len(found) + sum(r.tasks_replaced for r in rolling)


def rolling_restart_errors(obs: Observation) -> int | None:
    rolling = rolling_restarts(obs)
    return sum(r.errors for r in rolling) if rolling else None
