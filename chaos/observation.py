"""What a chaos run observed, in one shape shared by the observer (which fills it), the verdict
and the reports (which read it). Times are seconds from the start of the run."""

from dataclasses import dataclass, field
from typing import Any, Literal

Outcome = Literal["ok", "error", "degraded", "shed"]


@dataclass(frozen=True)
class RequestRecord:
    """One request of the load: when it was sent, how long it took, how it ended.
    `error` is what a user would call broken (5xx, timeout, refused); `degraded` is a whole
    answer served by a fallback (the X-Degraded header); `shed` a request the gateway refused at
    once to stay within its capacity (503 /overloaded), not counted as an error."""

    t: float
    name: str
    latency_ms: float
    outcome: Outcome


@dataclass(frozen=True)
class Sample:
    """Sampled once a second while the load runs."""

    t: float
    rps: float
    error_rate: float
    degraded_rate: float
    breakers: dict[str, dict[str, str]]  # service -> dependency -> closed | open | half-open
    oracles: dict[str, float]  # live oracle counts


@dataclass
class FaultWindow:
    """A fault as it really happened: when it was applied and reverted, and the evidence that it
    took effect (or why it could not be shown to)."""

    kind: str
    target: str
    start_s: float
    end_s: float | None = None
    took_effect: bool = False
    evidence: str = ""
    mechanism: str = ""  # signal, docker, netem, delay-proxy, iptables, fault-hook, ...
    peer: str | None = None
    # What the fault measured beyond the window (an orchestrator's replacements of dead tasks,
    # the tasks a rolling restart replaced), for the report's own figures.
    figures: dict[str, Any] = field(default_factory=dict)


@dataclass
class Observation:
    scenario: str
    backend: str
    resilience: str
    duration_s: float
    requests: list[RequestRecord] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    faults: list[FaultWindow] = field(default_factory=list)
    oracles: dict[str, float] = field(default_factory=dict)  # final audit
    notes: list[str] = field(default_factory=list)
    # the open loop's ledger (loadtest/schedule.py: late arrivals, rate offered); empty in a
    # closed loop or when the load wrote none
    generator: dict[str, Any] = field(default_factory=dict)
