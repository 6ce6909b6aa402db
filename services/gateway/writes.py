"""Posting and sending DMs through the gateway, with the outbox fallback.

With the resilience layer on, every write carries an idempotency key (the client's, or one the
gateway makes up) and, for posts, an id the gateway chose: a write that timed out and is then
delivered from the outbox is still applied once, under the id the user was given.
"""

import time
import uuid
from datetime import UTC, datetime

import orjson
from starlette.responses import Response

from services.common.auth import User
from services.common.downstream import Downstream
from services.common.errors import DependencyUnavailable
from services.common.idempotency import HEADER, fingerprint
from services.common.wire import Post, conversation_id, post_id_time_ms
from services.gateway.degraded import Degradations, degraded_response
from services.gateway.idempotency import GatewayKeys, Recalled
from services.gateway.outbox import Outbox, PostIds
from services.gateway.relay import relay

ACCEPTED = 202


class OutboxWriter:
    """What posting and sending a DM share: the plain call with the layer off, the direct call
    that remembers its answer under the client's key, and the 202 from the outbox."""

    dependency = ""

    def __init__(
        self,
        service: Downstream,
        outbox: Outbox,
        keys: GatewayKeys,
        degradations: Degradations,
        resilient: bool,
    ) -> None:
        self.service = service
        self.outbox = outbox
        self.keys = keys
        self.degradations = degradations
        self.resilient = resilient

    async def _plain(self, path: str, token: str, text: str, client_key: str | None) -> Response:
        headers = {HEADER: client_key} if client_key else {}
        return relay(
            await self.service.request(
                "POST", path, user_token=token, json={"text": text}, headers=headers
            )
        )

    async def _direct(
        self,
        user: User,
        path: str,
        token: str,
        body: dict[str, object],
        key: str,
        client_key: str | None,
        fp: str,
    ) -> Response | None:
        """The service's own answer, remembered for the client's key; None while it is away."""
        try:
            answer = await self.service.request(
                "POST", path, user_token=token, json=body, headers={HEADER: key}
            )
        except DependencyUnavailable:
            return None
        if client_key:
            await self.keys.remember(user.id, client_key, fp, 201, answer.json())
        return relay(answer)

    async def _accepted(
        self, user: User, client_key: str | None, fp: str, body: dict[str, object]
    ) -> Response:
        if client_key:
            await self.keys.remember(user.id, client_key, fp, ACCEPTED, body)
        reason = self.degradations.served(self.dependency, "outbox")
        return degraded_response(body, [reason], ACCEPTED)

    async def _replayed(self, user: User, client_key: str | None, fp: str) -> Response | None:
        earlier = await self.keys.recall(user.id, client_key, fp)
        return None if earlier is None else replay(earlier, self.dependency, self.degradations)


class PostWriter(OutboxWriter):
    dependency = "posts"

    def __init__(
        self,
        posts: Downstream,
        outbox: Outbox,
        ids: PostIds,
        keys: GatewayKeys,
        degradations: Degradations,
        resilient: bool,
    ) -> None:
        super().__init__(posts, outbox, keys, degradations, resilient)
        self.ids = ids

    async def create(self, user: User, token: str, text: str, client_key: str | None) -> Response:
        if not self.resilient:
            return await self._plain("/internal/posts", token, text, client_key)
        fp = fingerprint({"text": text})
        async with self.keys.exclusive(user.id, client_key):
            if (earlier := await self._replayed(user, client_key, fp)) is not None:
                return earlier
            key = client_key or f"gw-{uuid.uuid4()}"
            post_id = await self.ids.next(user.id, client_key, fp)
            body: dict[str, object] = {"text": text, "id": post_id}
            direct = await self._direct(user, "/internal/posts", token, body, key, client_key, fp)
            if direct is not None:
                return direct
            await self.outbox.add(
                {"id": str(post_id), "author_id": str(user.id), "author": user.handle,
                 "text": text, "key": key}
            )  # fmt: skip
            created = datetime.fromtimestamp(post_id_time_ms(post_id) / 1000, tz=UTC)
            post = Post(id=post_id, author=user.handle, text=text, created_at=created)
            return await self._accepted(user, client_key, fp, post.model_dump(mode="json"))

    async def deliver(self, entry: dict[str, str]) -> None:
        body = {
            "id": int(entry["id"]),
            "author_id": int(entry["author_id"]),
            "author": entry["author"],
            "text": entry["text"],
        }
        await self.service.request(
            "POST", "/internal/outbox/posts", json=body, headers={HEADER: entry["key"]}
        )


class DmWriter(OutboxWriter):
    dependency = "dms"

    async def send(
        self, user: User, token: str, peer_id: int, text: str, client_key: str | None
    ) -> Response:
        path = f"/internal/conversations/{peer_id}/messages"
        if not self.resilient:
            return await self._plain(path, token, text, client_key)
        fp = fingerprint({"to": peer_id, "text": text})
        cid = conversation_id(user.id, peer_id)
        pending = pending_key(cid)
        async with self.keys.exclusive(user.id, client_key):
            if (earlier := await self._replayed(user, client_key, fp)) is not None:
                return earlier
            key = client_key or f"gw-{uuid.uuid4()}"
            # Behind messages still in the outbox, a new one waits its turn: order first.
            if await self.outbox.pending(pending) <= 0:
                body: dict[str, object] = {"text": text}
                direct = await self._direct(user, path, token, body, key, client_key, fp)
                if direct is not None:
                    return direct
            await self.outbox.add(
                {"sender_id": str(user.id), "sender": user.handle, "peer_id": str(peer_id),
                 "text": text, "key": key, "conversation_id": cid},
                pending_key=pending,
            )  # fmt: skip
            queued: dict[str, object] = {
                "conversation_id": cid,
                "seq": None,
                "sender": user.handle,
                "text": text,
                "sent_at": datetime.fromtimestamp(time.time(), tz=UTC).isoformat(),
            }
            return await self._accepted(user, client_key, fp, queued)

    async def deliver(self, entry: dict[str, str]) -> None:
        body = {
            "sender_id": int(entry["sender_id"]),
            "sender": entry["sender"],
            "peer_id": int(entry["peer_id"]),
            "text": entry["text"],
        }
        await self.service.request(
            "POST", "/internal/outbox/messages", json=body, headers={HEADER: entry["key"]}
        )


def replay(earlier: Recalled, dependency: str, degradations: Degradations) -> Response:
    """The first answer to a key, again: from the outbox (still degraded) or as created."""
    if earlier.status == ACCEPTED:
        reason = degradations.served(dependency, "outbox")
        response = degraded_response(earlier.answer, [reason], ACCEPTED)
    else:
        response = Response(
            orjson.dumps(earlier.answer), earlier.status, media_type="application/json"
        )
    response.headers["Idempotent-Replayed"] = "true"
    return response


def pending_key(cid: str) -> str:
    return f"gw:outbox:dms:pending:{cid}"


def pending_key_of(entry: dict[str, str]) -> str | None:
    return pending_key(entry["conversation_id"]) if "conversation_id" in entry else None
