"""Dependencies of the gateway's routes."""

from typing import Annotated

from fastapi import Depends, Request

from services.common.idempotency import HEADER, idempotency_key
from services.gateway.backends import Backends
from services.gateway.directory import HandleDirectory


def get_backends(request: Request) -> Backends:
    backends: Backends = request.app.state.backends
    return backends


def get_directory(request: Request) -> HandleDirectory:
    directory: HandleDirectory = request.app.state.directory
    return directory


def idempotency_headers(key: Annotated[str | None, Depends(idempotency_key)]) -> dict[str, str]:
    return {HEADER: key} if key is not None else {}


BackendsDep = Annotated[Backends, Depends(get_backends)]
Directory = Annotated[HandleDirectory, Depends(get_directory)]
IdempotencyHeaders = Annotated[dict[str, str], Depends(idempotency_headers)]
