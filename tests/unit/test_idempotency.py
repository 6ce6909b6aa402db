"""Idempotency keys: which keys are accepted, and the body fingerprint that tells retries apart."""

import pytest

from services.common.errors import Unprocessable
from services.common.idempotency import checked_key, fingerprint
from services.common.limits import IDEMPOTENCY_KEY_MAX


def test_absent_key_means_no_idempotency() -> None:
    assert checked_key(None) is None


@pytest.mark.parametrize(
    "key", ["k", "3f2b1c9e-7c1e-4a53-9d55-000000000000", "x" * IDEMPOTENCY_KEY_MAX, "a b:c/d"]
)
def test_visible_ascii_keys_of_1_to_200_characters_are_accepted_unchanged(key: str) -> None:
    assert checked_key(key) == key


@pytest.mark.parametrize(
    "key",
    ["", "x" * (IDEMPOTENCY_KEY_MAX + 1), "tab\there", "nl\n", "\x00", " edge", "edge ", "clé"],
)
def test_empty_too_long_unprintable_or_space_edged_keys_are_refused_with_422(key: str) -> None:
    with pytest.raises(Unprocessable, match="Idempotency-Key") as caught:
        checked_key(key)
    assert caught.value.status == 422


def test_fingerprint_is_the_same_for_the_same_body_whatever_the_key_order() -> None:
    assert fingerprint({"text": "hi", "to": 3}) == fingerprint({"to": 3, "text": "hi"})


@pytest.mark.parametrize(
    "other",
    [{"text": "hi!"}, {"text": "Hi"}, {"text": "hi", "to": 3}, {"text": "hi "}, {}],
)
def test_fingerprint_differs_for_any_other_body(other: dict[str, object]) -> None:
    assert fingerprint({"text": "hi"}) != fingerprint(other)


def test_fingerprint_is_a_sha256_hex_digest() -> None:
    digest = fingerprint({"text": "hi"})
    assert len(digest) == 64
    assert int(digest, 16) >= 0
