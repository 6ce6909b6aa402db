"""Dependencies of the gateway's routes."""

from typing import Annotated

from fastapi import Depends, Request

from services.common.idempotency import idempotency_key
from services.gateway.backends import Backends
from services.gateway.directory import HandleDirectory
from services.gateway.wiring import Gateway


async def get_backends(request: Request) -> Backends:
    backends: Backends = request.app.state.backends
    return backends


async def get_gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


async def get_directory(request: Request) -> HandleDirectory:
    gateway: Gateway = request.app.state.gateway
    return gateway.directory


BackendsDep = Annotated[Backends, Depends(get_backends)]
GatewayDep = Annotated[Gateway, Depends(get_gateway)]
Directory = Annotated[HandleDirectory, Depends(get_directory)]
IdempotencyKey = Annotated[str | None, Depends(idempotency_key)]
