"""Idempotency keys: what a write remembers so that a retry replays its first answer.

A key is scoped to the user who sent it (another user's identical key is another key), and the
record holds a fingerprint of the request body: the same key with another body is refused (422).
The owning service checks and records the key in the same atomic step as the write itself.
"""

import hashlib
import re
from typing import Annotated

import orjson
from fastapi import Header

from services.common.errors import Unprocessable
from services.common.limits import IDEMPOTENCY_KEY_MAX, IDEMPOTENCY_KEY_PATTERN

IDEMPOTENCY_TTL_S = 24 * 3600
HEADER = "Idempotency-Key"


def fingerprint(body: object) -> str:
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)


def checked_key(raw: str | None) -> str | None:
    if raw is None:
        return None
    if len(raw) > IDEMPOTENCY_KEY_MAX or not _KEY.fullmatch(raw):
        raise Unprocessable(
            f"{HEADER} must be 1..{IDEMPOTENCY_KEY_MAX} visible ASCII characters "
            "(spaces inside only)"
        )
    return raw


async def idempotency_key(
    # The same rule in the OpenAPI schema, so that clients (and schema-driven tests) know it.
    key: Annotated[
        str | None,
        Header(
            alias=HEADER,
            min_length=1,
            max_length=IDEMPOTENCY_KEY_MAX,
            pattern=IDEMPOTENCY_KEY_PATTERN,
            description="Makes a retry of this write return its first answer",
        ),
    ] = None,
) -> str | None:
    return checked_key(key)
