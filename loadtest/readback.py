"""What the final audit reads back once the load has stopped: the plan (whose posts, which
conversations) and what it found. Plain data, so that the oracles never touch the network."""

from dataclasses import dataclass, field

# Posts older than the run's first write, less this margin, predate the run: never read back.
FLOOR_MARGIN_S = 60.0
POST_ID_SHIFT = 1024  # post ids are epoch milliseconds * 1024 + a counter

Pair = tuple[str, str]


def pair(a: str, b: str) -> Pair:
    """One name for the conversation between two handles, whoever writes first."""
    low, high = sorted((a, b))
    return (low, high)


def post_id_floor(epoch_s: float) -> int:
    """The lowest post id a post created at `epoch_s` (less the margin) can have."""
    return int((epoch_s - FLOOR_MARGIN_S) * 1000) * POST_ID_SHIFT


@dataclass
class AuditPlan:
    # author -> the lowest post id worth reading (anything older predates the run)
    authors: dict[str, int] = field(default_factory=dict)
    # conversation -> the participant who reads it back (only participants may)
    conversations: dict[Pair, str] = field(default_factory=dict)

    @property
    def readers(self) -> set[str]:
        return set(self.authors) | set(self.conversations.values())


@dataclass
class FinalReads:
    # author -> every post from the floor up, newest first, as (id, key or None)
    posts: dict[str, list[tuple[int, str | None]]] = field(default_factory=dict)
    # conversation -> every message from seq 1, in the order served, as (seq, key or None)
    conversations: dict[Pair, list[tuple[int, str | None]]] = field(default_factory=dict)
    # False when the gateway's outboxes still held writes when reading began
    outbox_drained: bool = True
    # what could not be read back (the writes there are unverified, not lost)
    unreadable: list[str] = field(default_factory=list)
