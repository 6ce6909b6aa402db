"""Schemathesis hooks of check 9, loaded by `st run` through SCHEMATHESIS_HOOKS.

A valid Idempotency-Key the fuzzer drew for a positive case is replaced by a fresh one: it
draws few distinct keys and sends them again with other bodies, which the contract answers with
422 on purpose (as the IETF Idempotency-Key draft says), a case schemathesis takes for valid data
refused. Check 3 covers key reuse; invalid keys are left as drawn, for the API to refuse.
"""

import re
import uuid
from typing import Any

import schemathesis

from services.common.idempotency import HEADER
from services.common.limits import IDEMPOTENCY_KEY_MAX, IDEMPOTENCY_KEY_PATTERN

_VALID_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)


def fresh_key(drawn: object) -> object:
    """A new key in place of a valid one; anything else as it was drawn."""
    if isinstance(drawn, str) and len(drawn) <= IDEMPOTENCY_KEY_MAX and _VALID_KEY.fullmatch(drawn):
        return f"st-{uuid.uuid4()}"
    return drawn


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    # Negative cases are left alone: they are refused whatever their key, and editing one makes
    # schemathesis revalidate it as positive, which sends the credentials a "missing
    # Authorization" case must go without (it then reports the 201 as auth ignored).
    if case.meta is not None and case.meta.generation.mode.is_negative:
        return
    if case.headers and HEADER in case.headers:
        case.headers[HEADER] = fresh_key(case.headers[HEADER])
