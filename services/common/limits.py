"""Input limits of the public API, shared by the gateway and the services that store the data."""

from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

POST_MAX_CHARS = 280
DM_MAX_CHARS = 1000
PAGE_DEFAULT = 20
PAGE_MAX = 100
HANDLE_PATTERN = r"^[a-z0-9_]{3,30}$"
IDEMPOTENCY_KEY_MAX = 200
# Visible ASCII, spaces only inside: HTTP trims a header value's ends, so a key that began or
# ended with a space would not arrive as it was sent.
IDEMPOTENCY_KEY_PATTERN = r"^[!-~](?:[ -~]*[!-~])?$"


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("text must not be blank")
    if "\x00" in text:
        raise ValueError("text must not contain NUL characters")
    return text


# What `_not_blank` enforces, as a pattern published in the OpenAPI schema (the validator keeps
# its clearer messages): no NUL, and some character that is not whitespace (\x1c-\x1f are
# whitespace to Python's str.strip and re, not to every regex engine).
TEXT_PATTERN = r"^[^\x00]*[^\s\x00\x1c-\x1f][^\x00]*$"
_PUBLISHED = {"pattern": TEXT_PATTERN}
PostText = Annotated[
    str,
    Field(min_length=1, max_length=POST_MAX_CHARS, json_schema_extra=_PUBLISHED),
    AfterValidator(_not_blank),
]
DmText = Annotated[
    str,
    Field(min_length=1, max_length=DM_MAX_CHARS, json_schema_extra=_PUBLISHED),
    AfterValidator(_not_blank),
]
Handle = Annotated[str, StringConstraints(pattern=HANDLE_PATTERN)]
Password = Annotated[str, Field(min_length=8, max_length=128)]
PageLimit = Annotated[int, Field(ge=1, le=PAGE_MAX)]
