"""What a service keeps in its own memory (the gateway's last good answers, which outlive an
outage of Redis too; the follow lists gateway and timeline keep warm).

The store is bounded by what its values weigh (bytes by default, or any unit `weigh` counts
in), not by how many there are: a few large values and many small ones cost what they cost, and
the least recently used go first. A value heavier than the whole budget is not kept at all.
"""

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

# What one entry costs beside its value: the key, the ordered dict's node, the tuple around it.
ENTRY_OVERHEAD_BYTES = 200


class LastGood(Generic[K, V]):
    def __init__(
        self, max_bytes: int, weigh: Callable[[V], int], entry_overhead: int = ENTRY_OVERHEAD_BYTES
    ) -> None:
        """`entry_overhead` is added to each value's weight (0 where `weigh` counts in other
        units than bytes)."""
        self.max_bytes = max_bytes
        self.weigh = weigh
        self.entry_overhead = entry_overhead
        self.bytes = 0
        self._items: OrderedDict[K, tuple[V, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def put(self, key: K, value: V) -> None:
        self.drop(key)
        weight = self.weigh(value) + self.entry_overhead
        if weight > self.max_bytes:
            return
        self._items[key] = (value, weight)
        self.bytes += weight
        while self.bytes > self.max_bytes:
            _, (_, dropped) = self._items.popitem(last=False)
            self.bytes -= dropped

    def get(self, key: K) -> V | None:
        kept = self._items.get(key)
        if kept is None:
            return None
        self._items.move_to_end(key)
        return kept[0]

    def drop(self, key: K) -> None:
        kept = self._items.pop(key, None)
        if kept is not None:
            self.bytes -= kept[1]
