"""Input limits of the public API, as the request models enforce them."""

import re

import pytest
from pydantic import ValidationError

from services.common.limits import DM_MAX_CHARS, POST_MAX_CHARS, TEXT_PATTERN
from services.common.wire import Credentials, NewMessage, NewPost


def error_types(exc: pytest.ExceptionInfo[ValidationError]) -> set[str]:
    return {str(e["type"]) for e in exc.value.errors()}


@pytest.mark.parametrize("text", ["a", "x" * POST_MAX_CHARS, "🐳" * POST_MAX_CHARS, " hi "])
def test_post_text_of_1_to_280_characters_is_kept_as_written(text: str) -> None:
    assert NewPost(text=text).text == text


def test_post_text_counts_characters_not_bytes() -> None:
    # 280 whales are 1120 bytes of UTF-8 and still a valid post; 281 are not.
    with pytest.raises(ValidationError) as caught:
        NewPost(text="🐳" * (POST_MAX_CHARS + 1))
    assert error_types(caught) == {"string_too_long"}


def test_post_text_of_281_characters_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        NewPost(text="x" * (POST_MAX_CHARS + 1))
    assert error_types(caught) == {"string_too_long"}


def test_empty_post_text_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        NewPost(text="")
    assert error_types(caught) == {"string_too_short"}


@pytest.mark.parametrize("blank", [" ", "   ", "\n\t", "\u3000"])
def test_whitespace_only_post_text_is_refused(blank: str) -> None:
    with pytest.raises(ValidationError, match="must not be blank"):
        NewPost(text=blank)


@pytest.mark.parametrize(
    "text",
    ["hi", " a ", "\u00a0", "\u00a0x", "\x1c", "\x1c\x1dz", "a\x00b", "\x00", "\n\nx\n", "\u3000"],
)
def test_published_text_pattern_says_exactly_what_the_validator_accepts(text: str) -> None:
    # schemathesis found "\u00a0" refused although the published schema allowed it
    try:
        NewPost(text=text)
        accepted = True
    except ValidationError:
        accepted = False
    assert bool(re.fullmatch(TEXT_PATTERN, text)) is accepted
    assert NewPost.model_json_schema()["properties"]["text"]["pattern"] == TEXT_PATTERN


@pytest.mark.parametrize("wrong", [5, None, ["a"], {"a": 1}, True])
def test_post_text_of_another_json_type_is_refused(wrong: object) -> None:
    with pytest.raises(ValidationError):
        NewPost.model_validate({"text": wrong})


def test_post_with_an_unknown_field_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        NewPost.model_validate({"text": "hi", "author": "someone_else"})
    assert error_types(caught) == {"extra_forbidden"}


@pytest.mark.parametrize("text", ["a", "x" * DM_MAX_CHARS])
def test_dm_text_of_1_to_1000_characters_is_accepted(text: str) -> None:
    assert NewMessage(text=text).text == text


@pytest.mark.parametrize("text", ["", "x" * (DM_MAX_CHARS + 1)])
def test_dm_text_outside_1_to_1000_characters_is_refused(text: str) -> None:
    with pytest.raises(ValidationError):
        NewMessage(text=text)


def test_whitespace_only_dm_is_refused() -> None:
    with pytest.raises(ValidationError, match="must not be blank"):
        NewMessage(text="  \n ")


def test_dm_with_an_unknown_field_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        NewMessage.model_validate({"text": "hi", "to": "bob"})
    assert error_types(caught) == {"extra_forbidden"}


@pytest.mark.parametrize("handle", ["abc", "a_1", "x" * 30, "000", "under_score_9"])
def test_handles_of_3_to_30_lowercase_letters_digits_or_underscores_are_valid(
    handle: str,
) -> None:
    assert Credentials(handle=handle, password="long-enough").handle == handle


@pytest.mark.parametrize(
    "handle",
    ["ab", "x" * 31, "Alice", "al ice", "al-ice", "alice!", "ålice", "", "alice\n", "../etc"],
)
def test_handles_outside_the_pattern_are_refused(handle: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Credentials(handle=handle, password="long-enough")
    assert error_types(caught) == {"string_pattern_mismatch"}


@pytest.mark.parametrize(
    ("password", "ok"),
    [("1234567", False), ("12345678", True), ("p" * 128, True), ("p" * 129, False)],
)
def test_passwords_must_have_8_to_128_characters(password: str, ok: bool) -> None:
    if ok:
        assert Credentials(handle="alice", password=password).password == password
    else:
        with pytest.raises(ValidationError):
            Credentials(handle="alice", password=password)


def test_credentials_with_an_unknown_field_are_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        Credentials.model_validate({"handle": "alice", "password": "long-enough", "admin": True})
    assert error_types(caught) == {"extra_forbidden"}
