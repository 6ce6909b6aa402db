"""Secrets for the in-process tests: services refuse to start without real ones, so every test
that builds an app passes these (64 bytes: long enough for every HMAC size, so PyJWT warns about
none of them)."""

from services.common.auth import TokenKeys

KEYS = TokenKeys(user_secret="u" * 64, internal_secret="i" * 64)
SECRETS = {"token_secret": KEYS.user_secret, "internal_secret": KEYS.internal_secret}
