"""Background loops that end when they are cancelled, even where a library lost the cancel.

On Python 3.11 `asyncio.wait_for` (which redis-py wraps around a socket write) can return the
inner result and drop a cancel request that arrived as it completed: the task stays
"cancelling" while the loop that awaited it goes round for ever, and whoever awaits the task (a
service's shutdown) waits for ever. Each round of a background loop therefore checks whether
its task is being cancelled and ends it then.
"""

import asyncio


def end_if_cancelled() -> None:
    """Raises CancelledError when the current task has a cancel request pending."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError("cancelled while a library call completed")
