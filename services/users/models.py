from pydantic import BaseModel


class UserIds(BaseModel):
    items: list[int]


class FanOutTargets(BaseModel):
    """Where an author's posts go: a heavy account's to its own post list (`items` empty),
    anyone else's to each follower in `items`."""

    heavy: bool
    items: list[int]
