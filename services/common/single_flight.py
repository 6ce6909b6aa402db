"""One call at a time, shared: callers who arrive while the call runs wait for it instead of
starting their own, and a caller who gives up does not cancel it for the others (nor leave a
call of its own behind). However many callers come and go, one call is out.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    def __init__(self, name: str) -> None:
        self.name = name
        self._flying: asyncio.Task[T] | None = None

    async def run(self, call: Callable[[], Awaitable[T]]) -> T:
        """The outcome of the call in flight, or of `call` started now if none is."""
        if self._flying is None:
            self._flying = asyncio.create_task(self._land(call), name=self.name)
            self._flying.add_done_callback(_retrieved)
        return await asyncio.shield(self._flying)

    async def close(self) -> None:
        if self._flying is not None:
            self._flying.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._flying

    async def _land(self, call: Callable[[], Awaitable[T]]) -> T:
        try:
            return await call()
        finally:
            self._flying = None


def _retrieved(task: "asyncio.Task[object]") -> None:
    # Its callers may all have gone: the outcome is read here so that none is left unretrieved.
    if not task.cancelled():
        task.exception()
