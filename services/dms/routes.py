"""Internal routes of dms. The conversation is always the caller's own with the peer: there is
no way to name a conversation one is not part of."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from services.common.auth import CurrentUser, InternalCaller
from services.common.errors import Unprocessable
from services.common.idempotency import fingerprint, idempotency_key
from services.common.limits import PAGE_DEFAULT, PAGE_MAX, DmText
from services.common.redis_store import RedisDep
from services.common.wire import Conversation, Message, NewMessage
from services.dms.store import Conversations

router = APIRouter(prefix="/internal", tags=["dms"])
DM_PAGE_DEFAULT = PAGE_DEFAULT


async def get_conversations(redis: RedisDep) -> Conversations:
    return Conversations(redis)


Store = Annotated[Conversations, Depends(get_conversations)]
IdempotencyKey = Annotated[str | None, Depends(idempotency_key)]


@router.post("/conversations/{peer_id}/messages", status_code=201, response_model=Message)
async def send(
    peer_id: int,
    body: NewMessage,
    user: CurrentUser,
    store: Store,
    key: IdempotencyKey,
    _: InternalCaller,
) -> Response:
    if peer_id == user.id:
        raise Unprocessable("a conversation needs two people")
    fp = fingerprint({"to": peer_id, "text": body.text})
    outcome, record = await store.send(user.id, user.handle, peer_id, body.text, key, fp)
    return _sent(outcome, record)


class OutboxMessage(BaseModel):
    """A message the gateway accepted into its outbox while dms was away, delivered later."""

    model_config = ConfigDict(extra="forbid")
    sender_id: int = Field(gt=0)
    sender: str
    peer_id: int = Field(gt=0)
    text: DmText


@router.post("/outbox/messages", status_code=201, response_model=Message)
async def deliver_from_outbox(
    body: OutboxMessage, store: Store, key: IdempotencyKey, _: InternalCaller
) -> Response:
    if body.peer_id == body.sender_id:
        raise Unprocessable("a conversation needs two people")
    fp = fingerprint({"to": body.peer_id, "text": body.text})
    outcome, record = await store.send(
        body.sender_id, body.sender, body.peer_id, body.text, key, fp
    )
    return _sent(outcome, record)


def _sent(outcome: str, record: str) -> Response:
    headers = {"Idempotent-Replayed": "true"} if outcome == "replay" else {}
    message = Message.from_record(record)
    return Response(message.model_dump_json(), 201, headers, media_type="application/json")


@router.get("/conversations/{peer_id}/messages")
async def read(
    peer_id: int,
    user: CurrentUser,
    store: Store,
    _: InternalCaller,
    after_seq: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = DM_PAGE_DEFAULT,
) -> Conversation:
    records = await store.read(user.id, peer_id, after_seq, limit)
    return Conversation(items=[Message.from_record(r) for r in records])
