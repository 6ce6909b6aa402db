"""Scenarios: typed models of the YAML files in chaos/scenarios/, validated before anything runs.

A scenario is a description, a load, hypotheses about the steady state, the fault window and the
recovery (each a metric with a bound), and a method: faults with start times and durations, which
may overlap. A wrong field name, an unknown service or a bound of the wrong type is an error that
names the file and line.
"""

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from chaos.fault_specs import (
    FAULT_KINDS,
    ORCHESTRATOR_KINDS,
    SERVICES,
    SLOTS,
    Cpu,
    Drain,
    FaultBase,
    FaultSpec,
    HttpErrors,
    Kill,
    Latency,
    Loss,
    Partition,
    Pause,
    Replicas,
    Restart,
    RollingRestart,
    Scale,
    Service,
    ServiceFault,
    Stop,
    Strict,
    TaskFault,
    single_host_refusal,
)
from loadtest.vocabulary import PHASE_METRICS, RUN_METRICS

__all__ = [
    "FAULT_KINDS",
    "ORCHESTRATOR_KINDS",
    "SERVICES",
    "SLOTS",
    "Cpu",
    "Drain",
    "FaultBase",
    "FaultSpec",
    "HttpErrors",
    "Kill",
    "Latency",
    "Load",
    "Loss",
    "Partition",
    "Pause",
    "Replicas",
    "Restart",
    "RollingRestart",
    "Scale",
    "Scenario",
    "ScenarioError",
    "Service",
    "ServiceFault",
    "Stop",
    "TaskFault",
    "single_host_refusal",
]

Phase = Literal["steady", "fault", "recovery", "run"]


class Load(Strict):
    """Closed-loop `users`, or an open-loop `rate` of requests per second, for `duration_s`."""

    users: int | None = Field(default=None, ge=1, le=2000)
    rate: float | None = Field(default=None, gt=0, le=5000)
    spawn_rate: float = Field(default=10, gt=0)
    duration_s: float = Field(gt=0, le=3600)
    seed: int = 1
    accounts: int = Field(default=60, ge=2, le=10_000)

    @model_validator(mode="after")
    def one_kind_of_load(self) -> "Load":
        if (self.users is None) == (self.rate is None):
            raise ValueError("give either users (closed loop) or rate (open loop)")
        return self


class Hypothesis(Strict):
    """`metric` in `phase` must stay within `max` and/or `min`."""

    metric: str  # one of PHASE_METRICS or RUN_METRICS
    phase: Phase = "run"
    max: float | None = None
    min: float | None = None
    name: str | None = None

    @field_validator("metric")
    @classmethod
    def a_metric_of_the_contract(cls, metric: str) -> str:
        if metric not in (*PHASE_METRICS, *RUN_METRICS):
            known = ", ".join((*PHASE_METRICS, *RUN_METRICS))
            raise ValueError(f"no metric {metric!r}: one of {known}")
        return metric

    @model_validator(mode="after")
    def bounded_in_its_phase(self) -> "Hypothesis":
        if self.max is None and self.min is None:
            raise ValueError("a hypothesis needs max or min")
        if self.metric in PHASE_METRICS and self.phase == "run":
            raise ValueError(f"{self.metric} is measured per phase: say steady, fault or recovery")
        if self.metric in RUN_METRICS and self.phase != "run":
            raise ValueError(f"{self.metric} is measured over the whole run: phase must be run")
        return self

    @property
    def label(self) -> str:
        return self.name or f"{self.phase} {self.metric}"

    @property
    def expect(self) -> str:
        bounds = []
        if self.min is not None:
            bounds.append(f">= {self.min:g}")
        if self.max is not None:
            bounds.append(f"<= {self.max:g}")
        return " and ".join(bounds)

    def holds(self, observed: float | None) -> bool:
        if observed is None:
            return False
        if self.min is not None and observed < self.min:
            return False
        return self.max is None or observed <= self.max


class Scenario(Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    description: str = Field(min_length=1)
    load: Load
    method: list[FaultSpec] = Field(default_factory=list)
    hypotheses: list[Hypothesis] = Field(min_length=1)
    # The orchestrator's own redundancy (replacing dead tasks): a scenario may need it on or off.
    self_healing: Literal["on", "off"] | None = None
    # The resilience setting the hypotheses are written for (a fallback's degraded answers exist
    # only with it on). A run with the other setting is allowed (to see the difference) and says
    # so in its notes; the console offers the scenario only on a stack that runs this setting.
    resilience: Literal["on", "off"] | None = None

    @field_validator("self_healing", "resilience", mode="before")
    @classmethod
    def on_or_off(cls, value: Any) -> Any:
        """YAML reads a bare on/off as true/false."""
        return {True: "on", False: "off"}.get(value, value) if isinstance(value, bool) else value

    @model_validator(mode="after")
    def faults_within_the_run(self) -> "Scenario":
        for fault in self.method:
            if fault.end_s > self.load.duration_s:
                raise ValueError(
                    f"the {fault.fault} of {fault.target} ends at {fault.end_s:g} s, after the "
                    f"load stops at {self.load.duration_s:g} s"
                )
        return self

    @property
    def fault_window(self) -> tuple[float, float] | None:
        """From the first fault's start to the last fault's end."""
        if not self.method:
            return None
        return min(f.at_s for f in self.method), max(f.end_s for f in self.method)

    def summary_line(self) -> str:
        """The description's first clause, for one-line listings."""
        first = self.description.strip().splitlines()[0]
        for stop in (": ", ". "):
            first = first.split(stop, 1)[0]
        return first.rstrip(".")


class ScenarioError(ValueError):
    """A scenario file that cannot run: the message names the file and the line."""


def load_scenario(path: Path) -> Scenario:
    text = path.read_text()
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: a scenario is a mapping of fields")
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_explain(path, node, exc)) from exc


def _explain(path: Path, root: yaml.Node | None, error: ValidationError) -> str:
    lines = []
    for problem in error.errors():
        location = [part for part in problem["loc"] if not _is_union_tag(part)]
        line = _line_of(root, location)
        where = ".".join(str(p) for p in location) or "(top)"
        message = problem["msg"]
        if problem["type"] == "extra_forbidden":
            message = "unknown field"
        lines.append(f"{path}:{line}: {where}: {message}")
    return "\n".join(lines)


def _is_union_tag(part: Any) -> bool:
    return isinstance(part, str) and part in FAULT_KINDS


def _line_of(node: yaml.Node | None, location: list[Any]) -> int:
    """The 1-based line of the deepest YAML node the error location reaches."""
    best = node.start_mark.line + 1 if node is not None else 1
    for part in location:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == part), None)
            key = next((k for k, _ in node.value if k.value == part), None)
            if match is None:
                break
            best = (key or match).start_mark.line + 1
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                break
            node = node.value[part]
            best = node.start_mark.line + 1
        else:
            break
    return best


SCENARIO_DIR = Path(__file__).parent / "scenarios"


def catalogue() -> dict[str, Path]:
    return {p.stem: p for p in sorted(SCENARIO_DIR.glob("*.yaml"))}


def resolve(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.exists():
            raise ScenarioError(f"{path}: no such file")
        return path
    known = catalogue()
    if name_or_path not in known:
        raise ScenarioError(
            f"no scenario {name_or_path!r}; the catalogue has: {', '.join(known) or 'nothing'}"
        )
    return known[name_or_path]
