"""Signed, expiring tokens: user tokens (issued by users) and service credentials (internal calls).

Both are HS256 JWTs with their own secret and audience, verified locally by every service that
needs them: no call per request. A token of one kind never passes as the other. Tokens are only
accepted in the shape they are issued in: `exp`, `iat` (and `nbf`, if present) whole seconds
(a JSON integer); anything else, a float or a string included, is a 401 like any bad token.
"""

import functools
import time
from dataclasses import dataclass
from typing import Annotated

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.common.errors import Unauthorized

USER_AUDIENCE = "chirp"
SERVICE_AUDIENCE = "chirp-internal"
ISSUER = "failwhale"
ALGORITHM = "HS256"
USER_TOKEN_TTL_S = 24 * 3600
SERVICE_TOKEN_TTL_S = 300
SERVICE_HEADER = "X-Failwhale-Service"
VERIFIED_TOKENS = 8192  # tokens remembered as verified, per process
TIME_CLAIMS = ("exp", "iat", "nbf")


@dataclass(frozen=True)
class User:
    id: int
    handle: str


@dataclass(frozen=True)
class TokenKeys:
    user_secret: str
    internal_secret: str


def issue_user_token(keys: TokenKeys, user: User, ttl_s: int = USER_TOKEN_TTL_S) -> str:
    now = int(time.time())
    claims = {
        "sub": str(user.id),
        "handle": user.handle,
        "aud": USER_AUDIENCE,
        "iss": ISSUER,
        "iat": now,
        "exp": now + ttl_s,
    }
    return jwt.encode(claims, keys.user_secret, algorithm=ALGORITHM)


def verify_user_token(keys: TokenKeys, token: str) -> User:
    claims = _decode(token, keys.user_secret, USER_AUDIENCE)
    try:
        return User(id=int(str(claims["sub"])), handle=str(claims["handle"]))
    except (KeyError, ValueError) as exc:
        raise Unauthorized("token lacks a user") from exc


def issue_service_token(keys: TokenKeys, service: str, ttl_s: int = SERVICE_TOKEN_TTL_S) -> str:
    now = int(time.time())
    claims = {
        "sub": service,
        "aud": SERVICE_AUDIENCE,
        "iss": ISSUER,
        "iat": now,
        "exp": now + ttl_s,
    }
    return jwt.encode(claims, keys.internal_secret, algorithm=ALGORITHM)


def verify_service_token(keys: TokenKeys, token: str) -> str:
    return str(_decode(token, keys.internal_secret, SERVICE_AUDIENCE)["sub"])


def _decode(token: str, secret: str, audience: str) -> dict[str, object]:
    """Verified claims. A token that verified once is remembered (by the token, the secret and
    the audience), so a user's next requests skip the signature check: only its expiry is
    checked again, against the clock, on every use."""
    claims = _verified(token, secret, audience)
    expires = claims["exp"]
    if not isinstance(expires, int) or expires <= time.time():
        raise Unauthorized("token expired")
    return claims


@functools.lru_cache(maxsize=VERIFIED_TOKENS)
def _verified(token: str, secret: str, audience: str) -> dict[str, object]:
    # Only tokens that verify are cached: a refused one raises, and lru_cache keeps nothing.
    try:
        claims: dict[str, object] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "aud", "iss"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("token expired") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthorized("invalid token") from exc
    # PyJWT takes any number (and numeric strings) as a time: ours are whole seconds.
    for name in TIME_CLAIMS:
        value = claims.get(name, 0)
        if not isinstance(value, int) or isinstance(value, bool):
            raise Unauthorized(f"malformed token: {name} is not a whole number of seconds")
    return claims


class ServiceCredential:
    """The credential a service sends on its internal calls, renewed before it expires."""

    def __init__(self, keys: TokenKeys, service: str) -> None:
        self.keys = keys
        self.service = service
        self._token = ""
        self._renew_at = 0.0

    def header(self) -> dict[str, str]:
        now = time.time()
        if now >= self._renew_at:
            self._token = issue_service_token(self.keys, self.service)
            self._renew_at = now + SERVICE_TOKEN_TTL_S / 2
        return {SERVICE_HEADER: self._token}


_bearer = HTTPBearer(
    auto_error=False, description="A user token from POST /v1/users or /v1/sessions"
)


def _keys(request: Request) -> TokenKeys:
    keys: TokenKeys = request.app.state.token_keys
    return keys


async def current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("a bearer token is required")
    return verify_user_token(_keys(request), credentials.credentials)


async def bearer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The caller's raw user token, forwarded on internal calls made on their behalf."""
    if credentials is None:
        raise Unauthorized("a bearer token is required")
    return credentials.credentials


async def internal_caller(request: Request) -> str:
    token = request.headers.get(SERVICE_HEADER)
    if not token:
        raise Unauthorized("internal routes need a service credential")
    return verify_service_token(_keys(request), token)


CurrentUser = Annotated[User, Depends(current_user)]
BearerToken = Annotated[str, Depends(bearer_token)]
InternalCaller = Annotated[str, Depends(internal_caller)]
