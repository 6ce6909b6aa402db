"""Circuit breakers as the samples saw them: the state of each service→dependency edge second by
second, and its open episodes.

An episode runs from the first sample that shows the breaker tripped (open, or half-open: it
opened in between two samples) to the first later sample that shows it closed; re-opening after
a failed half-open probe belongs to the same episode. A sample that does not mention a breaker
(its service could not be asked) changes nothing.
"""

from dataclasses import dataclass

from chaos.observation import Observation

Edge = tuple[str, str]  # (service, dependency)


@dataclass(frozen=True)
class Episode:
    service: str
    dependency: str
    opened_at_s: float
    closed_at_s: float | None


def edges(obs: Observation) -> list[Edge]:
    """Every service→dependency edge that any sample mentions, sorted."""
    seen = {(svc, dep) for s in obs.samples for svc, deps in s.breakers.items() for dep in deps}
    return sorted(seen)


def states(obs: Observation, edge: Edge) -> list[tuple[float, str | None]]:
    """(sample time, state) in time order; None where the sample does not mention the edge."""
    service, dependency = edge
    return [
        (s.t, s.breakers.get(service, {}).get(dependency))
        for s in sorted(obs.samples, key=lambda s: s.t)
    ]


def episodes(obs: Observation) -> list[Episode]:
    found: list[Episode] = []
    for edge in edges(obs):
        opened: float | None = None
        for t, state in states(obs, edge):
            if state is None:
                continue
            if state != "closed" and opened is None:
                opened = t
            elif state == "closed" and opened is not None:
                found.append(Episode(edge[0], edge[1], opened, t))
                opened = None
        if opened is not None:
            found.append(Episode(edge[0], edge[1], opened, None))
    return sorted(found, key=lambda e: (e.opened_at_s, e.service, e.dependency))
