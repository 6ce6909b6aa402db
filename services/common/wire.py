"""Shapes that cross service boundaries: request and answer bodies of the public API (the
gateway relays the services' answers unchanged), and the post record on the stream."""

from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict

from services.common.limits import DmText, Handle, Password, PostText

POST_EVENTS_STREAM = "chirp:posts:events"


def conversation_id(a: int, b: int) -> str:
    """One id for the conversation between two users, whoever writes first."""
    low, high = sorted((a, b))
    return f"{low}-{high}"


def iso_from_ms(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)


def _record(record: str | bytes | dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(record) if isinstance(record, str | bytes) else record
    return data


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")
    handle: Handle
    password: Password


class Account(BaseModel):
    id: int
    handle: str


class NewAccount(Account):
    token: str


class Session(BaseModel):
    token: str


class NewPost(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: PostText


class Post(BaseModel):
    id: int
    author: str
    text: str
    created_at: datetime

    @classmethod
    def from_record(cls, record: str | bytes | dict[str, Any]) -> "Post":
        """A post from its stored record: `{id, author_id, author, text, created_ms}`."""
        data = _record(record)
        return cls(
            id=int(data["id"]),
            author=str(data["author"]),
            text=str(data["text"]),
            created_at=iso_from_ms(int(data["created_ms"])),
        )


class PostPage(BaseModel):
    items: list[Post]
    next: int | None = None


class NewMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: DmText


class Message(BaseModel):
    conversation_id: str
    seq: int
    sender: str
    text: str
    sent_at: datetime

    @classmethod
    def from_record(cls, record: str | bytes | dict[str, Any]) -> "Message":
        """A message from its stored record: `{conversation_id, seq, sender_id, sender, ...}`."""
        data = _record(record)
        return cls(
            conversation_id=str(data["conversation_id"]),
            seq=int(data["seq"]),
            sender=str(data["sender"]),
            text=str(data["text"]),
            sent_at=iso_from_ms(int(data["sent_ms"])),
        )


class Conversation(BaseModel):
    items: list[Message]


class Trend(BaseModel):
    tag: str
    count: int


class Trends(BaseModel):
    items: list[Trend]


POST_ID_SHIFT = 1024  # ids are epoch milliseconds * 1024 + a counter (see services.posts.store)


def post_id_time_ms(post_id: int) -> int:
    return post_id // POST_ID_SHIFT
