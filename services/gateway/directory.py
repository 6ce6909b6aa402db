"""Handle to user id, asked of users once and then remembered (a handle never changes owner)."""

import re
from collections import OrderedDict

from services.common.downstream import Downstream
from services.common.errors import NotFound
from services.common.limits import HANDLE_PATTERN

# fullmatch, not match: `$` would let a trailing newline through.
_HANDLE = re.compile(HANDLE_PATTERN.removeprefix("^").removesuffix("$"))


class HandleDirectory:
    def __init__(self, users: Downstream, capacity: int) -> None:
        self.users = users
        self.capacity = capacity
        self._ids: OrderedDict[str, int] = OrderedDict()

    async def id_of(self, handle: str) -> int:
        if not _HANDLE.fullmatch(handle):
            raise NotFound(f"no user {handle!r}")
        if handle in self._ids:
            self._ids.move_to_end(handle)
            return self._ids[handle]
        answer = await self.users.request("GET", f"/internal/users/by-handle/{handle}")
        user_id = int(answer.json()["id"])
        self._ids[handle] = user_id
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
        return user_id
