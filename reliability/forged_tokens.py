"""The tokens an attacker tries instead of a valid one: none, garbage, expired, forged or
tampered signatures, `alg: none`, and the credential of the other kind (a service credential as a
user token, a user token as a service credential).

Expired tokens and service credentials are minted with the testbed's own secrets (what a
leaked-then-expired token, or a credential read off an internal call, looks like); forged ones
with a secret the stack does not know, or with the development secrets earlier versions of the
project published (which no stack may run with).
"""

import base64
import time

import jwt
import orjson

from reliability.chirp_client import Member
from services.common.auth import (
    ISSUER,
    SERVICE_AUDIENCE,
    USER_AUDIENCE,
    TokenKeys,
    User,
    issue_service_token,
    issue_user_token,
)
from services.common.settings import DEV_INTERNAL_SECRET, DEV_TOKEN_SECRET

ATTACKER_KEYS = TokenKeys("attacker-" + "f" * 56, "attacker-" + "e" * 56)
PUBLISHED_KEYS = TokenKeys(DEV_TOKEN_SECRET, DEV_INTERNAL_SECRET)


def _segment(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(data)).rstrip(b"=").decode()


def tampered(token: str, **changes: object) -> str:
    """The same token with claims changed and the original signature kept."""
    header, payload, signature = token.split(".")
    claims = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return ".".join([header, _segment(claims | changes), signature])


def unsigned(claims: dict[str, object]) -> str:
    """`alg: none`: claims with an empty signature."""
    return jwt.encode(claims, None, algorithm="none")


def user_claims(member: Member, audience: str = USER_AUDIENCE) -> dict[str, object]:
    now = int(time.time())
    return {
        "sub": str(member.id),
        "handle": member.handle,
        "aud": audience,
        "iss": ISSUER,
        "iat": now,
        "exp": now + 600,
    }


def bad_user_headers(keys: TokenKeys, victim: Member, other: Member) -> dict[str, dict[str, str]]:
    """The Authorization header of each kind of bad user token, all for the victim's account."""
    user = User(victim.id, victim.handle)
    no_expiry = user_claims(victim)
    no_expiry.pop("exp")
    tokens = {
        "garbage": "definitely.not.a-token",
        "expired": issue_user_token(keys, user, ttl_s=-60),
        "forged signature": issue_user_token(ATTACKER_KEYS, user),
        "signed with the published development secret": issue_user_token(PUBLISHED_KEYS, user),
        "float expiry": jwt.encode(
            user_claims(victim) | {"exp": time.time() + 600.5}, keys.user_secret, "HS256"
        ),
        "tampered sub": tampered(other.token, sub=str(victim.id), handle=victim.handle),
        "tampered expiry": tampered(issue_user_token(keys, user, ttl_s=-60), exp=2**31),
        "alg none": unsigned(user_claims(victim)),
        "no expiry (forged)": jwt.encode(no_expiry, ATTACKER_KEYS.user_secret, "HS256"),
        "service credential as user token": issue_service_token(keys, "gateway"),
        "user claims signed with the internal secret": jwt.encode(
            user_claims(victim), keys.internal_secret, "HS256"
        ),
        "internal audience": jwt.encode(
            user_claims(victim, SERVICE_AUDIENCE), keys.user_secret, "HS256"
        ),
    }
    basic = base64.b64encode(f"{victim.handle}:{victim.password}".encode()).decode()
    return {
        "no token": {},
        "bearer without a token": {"Authorization": "Bearer"},
        "token without the Bearer scheme": {"Authorization": other.token},
        "password as Basic": {"Authorization": f"Basic {basic}"},
    } | {kind: {"Authorization": f"Bearer {token}"} for kind, token in tokens.items()}


def bad_service_credentials(keys: TokenKeys, member: Member) -> dict[str, str | None]:
    """Each kind of bad service credential (None: no credential header at all)."""
    now = int(time.time())
    service = {"sub": "gateway", "aud": SERVICE_AUDIENCE, "iss": ISSUER, "iat": now}
    return {
        "no credential": None,
        "user token as credential": member.token,
        "expired": issue_service_token(keys, "gateway", ttl_s=-60),
        "forged signature": issue_service_token(ATTACKER_KEYS, "gateway"),
        "signed with the published development secret": issue_service_token(
            PUBLISHED_KEYS, "gateway"
        ),
        "alg none": unsigned(service | {"exp": now + 600}),
        "signed with the user secret": jwt.encode(
            service | {"exp": now + 600}, keys.user_secret, "HS256"
        ),
    }
