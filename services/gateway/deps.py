"""Dependencies of the gateway's routes."""

from typing import Annotated

from fastapi import Depends, Request

from services.common.idempotency import idempotency_key
from services.gateway.backends import Backends
from services.gateway.directory import HandleDirectory
from services.gateway.wiring import Gateway


def get_backends(request: Request) -> Backends:
    backends: Backends = request.app.state.backends
    return backends


def get_gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


def get_directory(request: Request) -> HandleDirectory:
    return get_gateway(request).directory


BackendsDep = Annotated[Backends, Depends(get_backends)]
GatewayDep = Annotated[Gateway, Depends(get_gateway)]
Directory = Annotated[HandleDirectory, Depends(get_directory)]
IdempotencyKey = Annotated[str | None, Depends(idempotency_key)]
