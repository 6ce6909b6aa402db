"""What a conversation read back after a run says about its order: inversions, duplicates and
gaps, counted (the load test's oracles stop at the first anomaly of each read; a figure wants
them all). Pure: the check reads, this counts."""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

# (seq, the idempotency key its text carries, or None), in the order the API served them
Message = tuple[int, str | None]


@dataclass(frozen=True)
class OrderAnomalies:
    # a message served before one with a lower seq, or acknowledged after another was sent
    # and yet numbered before it
    inversions: int = 0
    # a write stored more than once, or a seq given to more than one message
    duplicates: int = 0
    # seq numbers between 1 and the highest that no message carries
    gaps: int = 0

    def __add__(self, other: "OrderAnomalies") -> "OrderAnomalies":
        return OrderAnomalies(
            self.inversions + other.inversions,
            self.duplicates + other.duplicates,
            self.gaps + other.gaps,
        )


def anomalies(messages: Sequence[Message], sent_in_order: Sequence[str]) -> OrderAnomalies:
    """`sent_in_order` holds the keys of the acknowledged messages of this conversation in the
    order they were sent, each acknowledged before the next was sent (one writer)."""
    seqs = [seq for seq, _ in messages]
    served_inversions = sum(1 for before, after in pairwise(seqs) if after < before)
    first_seq: dict[str, int] = {}
    for seq, key in messages:
        if key is not None:
            first_seq.setdefault(key, seq)
    placed = [first_seq[key] for key in sent_in_order if key in first_seq]
    real_time_inversions = sum(1 for before, after in pairwise(placed) if after < before)
    keys = Counter(key for _, key in messages if key is not None)
    repeated_seqs = Counter(seqs)
    duplicates = sum(n - 1 for n in keys.values()) + sum(n - 1 for n in repeated_seqs.values())
    gaps = (max(seqs) - len(repeated_seqs)) if seqs else 0
    return OrderAnomalies(served_inversions + real_time_inversions, duplicates, gaps)
