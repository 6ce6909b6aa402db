"""Idempotency keys: what a write remembers so that a retry replays its first answer.

A key is scoped to the user who sent it (another user's identical key is another key), and the
record holds a fingerprint of the request body: the same key with another body is refused (422).
The owning service checks and records the key in the same atomic step as the write itself.
"""

import hashlib
from typing import Annotated

import orjson
from fastapi import Header

from services.common.errors import Unprocessable
from services.common.limits import IDEMPOTENCY_KEY_MAX

IDEMPOTENCY_TTL_S = 24 * 3600
HEADER = "Idempotency-Key"


def fingerprint(body: object) -> str:
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def checked_key(raw: str | None) -> str | None:
    if raw is None:
        return None
    if not 1 <= len(raw) <= IDEMPOTENCY_KEY_MAX or not raw.isprintable():
        raise Unprocessable(f"{HEADER} must be 1..{IDEMPOTENCY_KEY_MAX} printable characters")
    return raw


async def idempotency_key(
    key: Annotated[str | None, Header(alias=HEADER)] = None,
) -> str | None:
    return checked_key(key)
