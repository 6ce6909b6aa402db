"""Tokens that verified once are remembered, and still expire on time."""

import time

import jwt
import pytest

from services.common import auth
from services.common.auth import TokenKeys, User, issue_user_token, verify_user_token
from services.common.errors import Unauthorized

KEYS = TokenKeys("u" * 64, "i" * 64)
ALICE = User(id=42, handle="alice")


def test_a_verified_token_is_not_verified_again(monkeypatch: pytest.MonkeyPatch) -> None:
    token = issue_user_token(KEYS, ALICE)
    assert verify_user_token(KEYS, token) == ALICE

    def no_more_decoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("decoded again")

    monkeypatch.setattr(jwt, "decode", no_more_decoding)
    assert verify_user_token(KEYS, token) == ALICE


def test_a_remembered_token_still_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    token = issue_user_token(KEYS, User(id=7, handle="bob"), ttl_s=60)
    assert verify_user_token(KEYS, token).id == 7
    later = time.time() + 61
    monkeypatch.setattr(auth.time, "time", lambda: later)
    with pytest.raises(Unauthorized, match="expired"):
        verify_user_token(KEYS, token)


def test_a_refused_token_is_not_remembered() -> None:
    forged = jwt.encode({"sub": "1"}, "x" * 64, algorithm="HS256")
    remembered = auth._verified.cache_info().currsize
    for _ in range(2):
        with pytest.raises(Unauthorized):
            verify_user_token(KEYS, forged)
    assert auth._verified.cache_info().currsize == remembered
