"""Violations found by the oracles, each anomaly counted once however often it is seen."""

from collections.abc import Hashable
from dataclasses import dataclass

from loadtest.vocabulary import VIOLATION_KINDS

# The oracles' counts of the contract (chaos summary.json `oracles`), plus phantom writes.
KINDS = VIOLATION_KINDS
EXAMPLES_PER_KIND = 5


@dataclass(frozen=True)
class Violation:
    kind: str
    detail: str
    time: float


class Tally:
    def __init__(self) -> None:
        self.counts = dict.fromkeys(KINDS, 0)
        self.examples: dict[str, list[str]] = {kind: [] for kind in KINDS}
        self._seen: set[tuple[str, Hashable]] = set()
        self.new: list[Violation] = []

    def add(self, kind: str, identity: Hashable, detail: str, time: float) -> None:
        """Counts the anomaly `identity` of this kind, unless it was counted already."""
        if kind not in self.counts:
            raise ValueError(f"unknown violation kind {kind!r}")
        if (kind, identity) in self._seen:
            return
        self._seen.add((kind, identity))
        self.counts[kind] += 1
        if len(self.examples[kind]) < EXAMPLES_PER_KIND:
            self.examples[kind].append(detail)
        self.new.append(Violation(kind, detail, time))

    def take_new(self) -> list[Violation]:
        """The violations counted since the last call."""
        new, self.new = self.new, []
        return new

    @property
    def total(self) -> int:
        return sum(self.counts.values())
