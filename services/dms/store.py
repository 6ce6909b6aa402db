"""Conversations in Redis (prefix `dms:`).

A conversation between two users has one id whoever writes first; its next sequence number is
taken and the message appended in the same Lua script, so numbers have no gaps and no repeats,
and (with an idempotency key) a retried send returns the first message instead of a second one.
"""

import hashlib

import redis.asyncio as aioredis

from services.common.errors import Unprocessable
from services.common.idempotency import IDEMPOTENCY_TTL_S
from services.common.wire import conversation_id

SEND = """
-- KEYS: seq counter, messages, idempotency key ('' when none)
-- ARGV: sender id, sender handle, text, fingerprint, idempotency ttl, conversation id
if KEYS[3] ~= '' then
  local prior = redis.call('GET', KEYS[3])
  if prior then
    local rec = cjson.decode(prior)
    if rec.fp ~= ARGV[4] then return {'conflict', ''} end
    return {'replay', rec.msg}
  end
end
local seq = redis.call('INCR', KEYS[1])
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local msg = '{"conversation_id":' .. cjson.encode(ARGV[6]) .. ',"seq":' .. string.format('%d', seq)
  .. ',"sender_id":' .. ARGV[1] .. ',"sender":' .. cjson.encode(ARGV[2])
  .. ',"text":' .. cjson.encode(ARGV[3]) .. ',"sent_ms":' .. string.format('%d', ms) .. '}'
redis.call('ZADD', KEYS[2], string.format('%d', seq), msg)
if KEYS[3] ~= '' then
  redis.call('SET', KEYS[3], cjson.encode({fp = ARGV[4], msg = msg}), 'EX', ARGV[5])
end
return {'created', msg}
"""


class Conversations:
    def __init__(self, redis: "aioredis.Redis") -> None:
        self.redis = redis
        self._send = redis.register_script(SEND)

    async def send(
        self,
        sender_id: int,
        sender: str,
        peer_id: int,
        text: str,
        idempotency_key: str | None,
        fp: str,
    ) -> tuple[str, str]:
        """Returns (`created` or `replay`, the stored message record)."""
        cid = conversation_id(sender_id, peer_id)
        idem = ""
        if idempotency_key is not None:
            digest = hashlib.sha256(idempotency_key.encode()).hexdigest()
            idem = f"dms:idem:{sender_id}:{digest}"
        answer: list[str] = await self._send(
            keys=[f"dms:conv:{cid}:seq", f"dms:conv:{cid}:msgs", idem],
            args=[sender_id, sender, text, fp, IDEMPOTENCY_TTL_S, cid],
        )
        outcome, record = answer
        if outcome == "conflict":
            raise Unprocessable("this Idempotency-Key was used with another request body")
        return str(outcome), str(record)

    async def read(self, reader_id: int, peer_id: int, after_seq: int, limit: int) -> list[str]:
        cid = conversation_id(reader_id, peer_id)
        records = await self.redis.zrangebyscore(
            f"dms:conv:{cid}:msgs", f"({after_seq}", "+inf", start=0, num=limit
        )
        return [str(r) for r in records]
