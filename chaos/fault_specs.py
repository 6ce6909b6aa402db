"""The faults a scenario's method lists: one typed model per kind (a discriminated union on
`fault`), with their targets and the rules of which engine can run which."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SERVICES = ("gateway", "users", "posts", "timeline-1", "timeline-2", "dms", "trends", "redis")
# `timeline` names the timeline service as a whole: its replicas are tasks of one service on an
# orchestrator (swarm), while a single host runs them as timeline-1 and timeline-2.
Service = Literal[
    "gateway", "users", "posts", "timeline", "timeline-1", "timeline-2", "dms", "trends", "redis"
]
SLOTS = {"timeline-1": ("timeline", 1), "timeline-2": ("timeline", 2)}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FaultBase(Strict):
    target: Service
    at_s: float = Field(ge=0)
    duration_s: float = Field(gt=0)

    @property
    def end_s(self) -> float:
        return self.at_s + self.duration_s


Replicas = Literal["one", "all"] | Annotated[float, Field(gt=0, le=1)]


class TaskFault(FaultBase):
    """A fault on the target's running instances. On an orchestrator a bare service name has
    several tasks: `replicas` picks `one`, `all` (the default: the service as a whole, as on a
    single host) or a share of them (0.5: half, rounded up). A slot (`timeline-1`) is one task."""

    replicas: Replicas | None = None

    @model_validator(mode="after")
    def replicas_of_a_service(self) -> "TaskFault":
        if self.replicas is not None and self.target in SLOTS:
            service, slot = SLOTS[self.target]
            raise ValueError(
                f"{self.target} is one task (slot {slot} of {service}): replicas picks among the "
                f"tasks of a service, say target: {service}"
            )
        return self


class Kill(TaskFault):
    """SIGKILL (docker kill); started again when the duration is over."""

    fault: Literal["kill"]


class Stop(TaskFault):
    """A graceful stop (SIGTERM, docker stop); started again when the duration is over."""

    fault: Literal["stop"]


class Pause(TaskFault):
    """Frozen (SIGSTOP, docker pause): connections stay open, nothing answers."""

    fault: Literal["pause"]


class Restart(TaskFault):
    """Stopped and started at once; the duration is the time allowed to be ready again."""

    fault: Literal["restart"]
    duration_s: float = Field(default=10, gt=0)


class Latency(TaskFault):
    fault: Literal["latency"]
    delay_ms: float = Field(gt=0, le=30_000)
    jitter_ms: float = Field(default=0, ge=0, le=30_000)


class Loss(TaskFault):
    fault: Literal["loss"]
    percent: float = Field(gt=0, le=100)


class Partition(TaskFault):
    """No traffic between `target` and `peer`, both ways."""

    fault: Literal["partition"]
    peer: Service

    @model_validator(mode="after")
    def two_sides(self) -> "Partition":
        if self.peer == self.target:
            raise ValueError("a partition needs two different services")
        return self


class HttpErrors(TaskFault):
    """A share of the target's answers replaced by 503s (through the fault hook)."""

    fault: Literal["http-errors"]
    rate: float = Field(gt=0, le=1)


class Cpu(TaskFault):
    """Busy loops competing for CPU with the target."""

    fault: Literal["cpu"]
    workers: int = Field(default=2, ge=1, le=16)


class ServiceFault(FaultBase):
    """A fault an orchestrator does to a service (not to one of its tasks): the target is a
    service, never a slot."""

    @model_validator(mode="after")
    def a_service(self) -> "ServiceFault":
        if self.target in SLOTS:
            service, _ = SLOTS[self.target]
            raise ValueError(f"{self.target} is one task: say target: {service}")
        return self


class Scale(ServiceFault):
    """The service runs `to` replicas for the duration, then the count it had before."""

    fault: Literal["scale"]
    to: int = Field(ge=0, le=20)


class RollingRestart(ServiceFault):
    """Every task of the service replaced one after another (`service update --force`), under
    load; the duration is the time allowed for the update to finish."""

    fault: Literal["rolling-restart"]
    duration_s: float = Field(default=60, gt=0)


class Drain(FaultBase):
    """The node that runs the target's (first) task drained (its tasks move to other nodes)
    for the duration, then active again. Needs more than one node."""

    fault: Literal["drain"]


FaultSpec = Annotated[
    Kill | Stop | Pause | Restart | Latency | Loss | Partition | HttpErrors | Cpu | Scale
    | RollingRestart | Drain,
    Field(discriminator="fault"),
]  # fmt: skip
FAULT_KINDS = ("kill", "stop", "pause", "restart", "latency", "loss", "partition",
               "http-errors", "cpu", "scale", "rolling-restart", "drain")  # fmt: skip
ORCHESTRATOR_KINDS = ("scale", "rolling-restart", "drain")


def single_host_refusal(fault: FaultBase) -> str | None:
    """Why a backend without an orchestrator (docker, local) cannot run `fault`, or None."""
    kind = getattr(fault, "fault", "")
    if kind in ORCHESTRATOR_KINDS:
        return f"{kind} is a fault only an orchestrator has: run it with --backend swarm"
    sides = [fault.target] + ([fault.peer] if isinstance(fault, Partition) else [])
    if "timeline" in sides:
        return "timeline is the replicated service of a swarm: here say timeline-1 or timeline-2"
    if isinstance(fault, TaskFault) and fault.replicas not in (None, "all", "one", 1):
        return "a share of replicas needs an orchestrator (--backend swarm): here each is one"
    return None
