"""Internal routes of dms. The conversation is always the caller's own with the peer: there is
no way to name a conversation one is not part of."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from services.common.auth import CurrentUser, InternalCaller
from services.common.errors import Unprocessable
from services.common.idempotency import fingerprint, idempotency_key
from services.common.limits import PAGE_DEFAULT, PAGE_MAX
from services.common.redis_store import RedisDep
from services.common.wire import Conversation, Message, NewMessage
from services.dms.store import Conversations

router = APIRouter(prefix="/internal", tags=["dms"])
DM_PAGE_DEFAULT = PAGE_DEFAULT


def get_conversations(redis: RedisDep) -> Conversations:
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
    fp = fingerprint({"to": peer_id, **body.model_dump()})
    outcome, record = await store.send(user.id, user.handle, peer_id, body.text, key, fp)
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
