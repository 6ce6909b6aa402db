"""Made-up observations for the verdict and report tests: small hand-written ones, and a
realistic timeline outage (both replicas killed from 30 s to 60 s of a 90 s run) as the observer
would record it with resilience on or off."""

import random

from chaos.observation import FaultWindow, Observation, RequestRecord, Sample
from chaos.scenario import Scenario

CLOSED = "closed"
NAMES = (
    ("GET /v1/timeline", 0.55),
    ("POST /v1/posts", 0.1),
    ("GET /v1/dms/[handle]", 0.1),
    ("POST /v1/dms/[handle]", 0.05),
    ("GET /v1/trends", 0.1),
    ("GET /v1/users/[handle]/posts", 0.1),
)
GATEWAY_EDGES = ("timeline-1", "timeline-2", "posts", "dms", "users", "trends")


def scenario(*hypotheses: dict[str, object], faults: int = 1) -> Scenario:
    method = [
        {"fault": "kill", "target": "timeline-1", "at_s": 30, "duration_s": 30}
        for _ in range(faults)
    ]
    return Scenario.model_validate(
        {
            "name": "made-up",
            "description": "a made-up scenario for unit tests",
            "load": {"users": 10, "duration_s": 90},
            "method": method,
            "hypotheses": list(hypotheses)
            or [{"metric": "error_rate", "phase": "steady", "max": 0.01}],
        }
    )


def sample(t: float, error_rate: float = 0.0, **breakers: str) -> Sample:
    """A sample whose gateway breakers are as given (`timeline_1="open"`), others closed."""
    return gateway_sample(t, breakers, error_rate)


def gateway_sample(t: float, breakers: dict[str, str], error_rate: float = 0.0) -> Sample:
    states = {dep: breakers.get(dep.replace("-", "_"), CLOSED) for dep in GATEWAY_EDGES}
    return Sample(t, 50.0, error_rate, 0.0, {"gateway": states}, {})


def timeline_outage(resilience: str = "on", seed: int = 7) -> Observation:
    rng = random.Random(seed)
    obs = Observation("timeline-outage", "docker", resilience, 90.0)
    for replica in ("timeline-1", "timeline-2"):
        obs.faults.append(
            FaultWindow("kill", replica, 30.0, 60.0, True, f"{replica} exited (137)", "docker")
        )
    names, weights = zip(*NAMES, strict=True)
    t = 0.0
    while t < 90.0:
        rate = 50.0 if resilience == "on" or not 30 <= t < 62 else 22.0
        t += rng.expovariate(rate)
        name = rng.choices(names, weights)[0]
        obs.requests.append(_request(rng, t, name, resilience))
    for second in range(90):
        obs.samples.append(_sample(obs, float(second), resilience))
    final = {"lost_writes": 0, "duplicate_writes": 0, "dm_order_violations": 0,
             "timeline_order_violations": 0, "phantom_writes": 0}  # fmt: skip
    final["read_your_writes_violations"] = 0 if resilience == "on" else 4
    obs.oracles = {**final, "max_staleness_s": 3.2 if resilience == "on" else 31.5}
    obs.notes.append("made up for the unit tests")
    return obs


def _request(rng: random.Random, t: float, name: str, resilience: str) -> RequestRecord:
    latency = rng.lognormvariate(2.0, 0.5)  # about 7 ms
    outcome = "error" if rng.random() < 0.001 else "ok"
    if name == "GET /v1/timeline" and 30 <= t < 61:
        if resilience == "off":
            latency, outcome = (30_000.0, "error") if rng.random() < 0.3 else (latency, "error")
        elif t < 31.2:
            latency, outcome = rng.uniform(250, 600), "error"
        else:
            latency, outcome = latency * 3.5, "degraded"
    if t >= 60 and t < 63 and resilience == "on":
        latency *= 2
    return RequestRecord(t, name, latency, outcome)  # type: ignore[arg-type]


def _sample(obs: Observation, t: float, resilience: str) -> Sample:
    window = [r for r in obs.requests if t - 1 <= r.t < t]
    n = max(len(window), 1)
    errors = sum(r.outcome == "error" for r in window) / n
    degraded = sum(r.outcome == "degraded" for r in window) / n
    breakers: dict[str, dict[str, str]] = {}
    if resilience == "on":
        state = CLOSED
        if 31 <= t < 62:
            state = "half-open" if t in (35.0, 45.0, 55.0) else "open"
        breakers["gateway"] = {d: state if d.startswith("timeline") else CLOSED
                               for d in GATEWAY_EDGES}  # fmt: skip
        for replica in ("timeline-1", "timeline-2"):
            if not 30 <= t < 61:
                breakers[replica] = {"users": CLOSED, "redis": CLOSED}
    staleness = min(max(t - 31, 0), 3.2) if resilience == "on" else min(max(t - 30, 0), 31.5)
    live = {"lost_writes": 0.0, "read_your_writes_violations": 0.0, "max_staleness_s": staleness}
    if resilience == "off":
        live["read_your_writes_violations"] = float(min(max(int((t - 32) / 6), 0), 4))
    return Sample(t, float(len(window)), errors, degraded, breakers, live)
