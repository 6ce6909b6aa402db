"""Fan-out on write: each post event goes into the home timeline of its author and followers,
unless its author is heavy: then into the author's own post list, which followers merge on read
(hybrid fan-out, docs/architecture.md). Users answers which, and lists the followers only of an
author who is not heavy, so a heavy author's post costs the same whatever its following.

While users is down the event stays pending and is retried, so fan-out waits and catches up
instead of dropping posts.
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
        answer = await self.users.request("GET", f"/internal/users/{author}/fanout-targets")
        targets = answer.json()
        if targets["heavy"]:
            await self.timelines.publish_heavy(int(post["id"]), record, author)
            return
        followers: list[int] = targets["items"]
        await self.timelines.deliver(int(post["id"]), record, [author, *followers])
