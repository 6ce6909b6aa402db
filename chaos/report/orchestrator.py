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


def orchestrator_html(obs: Observation) -> str:
    """The report's section on the orchestrator's figures; empty when the run had none."""
    from chaos.report.html_parts import e, table

    found, rolling = replacements(obs), rolling_restarts(obs)
    if not found and not rolling:
        return ""
    parts = ["<h2>Orchestrator</h2>"]
    if found:
        times = replacement_times(obs)
        assert times is not None
        said = (
            f"{times.count} replaced by the orchestrator itself: p50 {times.p50_s} s, "
            f"max {times.max_s} s"
            if times.count
            else "none replaced by the orchestrator itself (self-healing off): each slot got "
            "its new task from the fault's revert"
        )
        parts.append(f"<p>Time from a task's death to its replacement running healthy: {said}.</p>")
        parts.append(
            table(
                ["task", "fault", "replaced after", "by"],
                [[e(r.task), e(r.kind), f"{r.seconds:.1f} s", e(r.by)] for r in found],
            )
        )
    for r in rolling:
        took = "n/a" if r.seconds is None else f"{r.seconds:.1f} s"
        parts.append(
            f"<p>Rolling restart of <b>{e(r.service)}</b>: {r.tasks_replaced} task(s) replaced "
            f"in {took}; {r.errors} of {r.requests} requests answered meanwhile failed.</p>"
        )
    return "\n".join(parts)
