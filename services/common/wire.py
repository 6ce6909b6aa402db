"""Shapes that cross service boundaries: request and answer bodies of the public API (the
gateway relays the services' answers unchanged), and the post record on the stream."""

from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field

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


# A log-in checks the password it is given against the stored hash and nothing else: one too
# short or too long for a sign-up is a wrong password (401) like any other, not a 422 that says
# how passwords are made. The bound only keeps absurd bodies away from the hash.
LOGIN_PASSWORD_MAX = 1024
DEVICE_MAX = 256


class LogIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    handle: Handle
    password: str = Field(max_length=LOGIN_PASSWORD_MAX)
    # What an earlier log-in or sign-up answered on this device: its guesses are counted apart
    # from everyone else's, so strangers guessing wrong cannot lock it out.
    device: str | None = Field(default=None, max_length=DEVICE_MAX)


class Account(BaseModel):
    id: int
    handle: str


class NewAccount(Account):
    token: str
    device: str | None = None


class Session(BaseModel):
    token: str
    # Keep it and send it with the next log-in from this device.
    device: str | None = None


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
