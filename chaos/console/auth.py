"""The console token: every /v1 route needs `Authorization: Bearer <token>`, compared in constant
time; a missing or wrong one is a 401 problem+json that says nothing about the token."""

import secrets
from typing import Annotated

from fastapi import Depends, Header, Request

from services.common.errors import Unauthorized


def require_token(request: Request, authorization: Annotated[str | None, Header()] = None) -> None:
    expected: str = request.app.state.settings.console_token
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not given:
        raise Unauthorized("send Authorization: Bearer <console token>")
    if not secrets.compare_digest(given.strip().encode(), expected.encode()):
        raise Unauthorized("the console token is not this agent's")


Authorized = Depends(require_token)
