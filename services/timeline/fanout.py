"""Fan-out on write: each post event goes into the home timeline of its author and followers.

The followers come from users over HTTP; while users is down the event stays pending and is
retried, so fan-out waits and catches up instead of dropping posts.
"""

import orjson

from services.common.downstream import Downstream
from services.timeline.store import HomeTimelines


class FanOut:
    def __init__(self, timelines: HomeTimelines, users: Downstream) -> None:
        self.timelines = timelines
        self.users = users

    async def __call__(self, entry_id: str, fields: dict[str, str]) -> None:
        record = fields["post"]
        post = orjson.loads(record)
        author = int(post["author_id"])
        answer = await self.users.request("GET", f"/internal/users/{author}/followers")
        followers: list[int] = answer.json()["items"]
        await self.timelines.deliver(int(post["id"]), record, [author, *followers])
