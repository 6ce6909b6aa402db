"""A bulkhead: at most N calls in flight to one dependency; the next one is refused at once,
so a slow dependency holds N workers, not all of them."""


class BulkheadFull(Exception):
    def __init__(self, name: str, limit: int) -> None:
        super().__init__(f"{name} has {limit} calls in flight already")
        self.name = name


class Bulkhead:
    def __init__(self, name: str, limit: int) -> None:
        self.name = name
        self.limit = limit
        self.in_flight = 0

    def enter(self) -> None:
        # One event loop, no await between the check and the increment: no lock needed.
        if self.in_flight >= self.limit:
            raise BulkheadFull(self.name, self.limit)
        self.in_flight += 1

    def leave(self) -> None:
        self.in_flight -= 1
