"""The users service app."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.common.service_app import build_service_app
from services.common.settings import settings_from_environment
from services.users.devices import Devices
from services.users.passwords import Passwords
from services.users.routes import router
from services.users.settings import UsersSettings


def create_app(settings: UsersSettings | None = None) -> FastAPI:
    settings = settings or settings_from_environment(UsersSettings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.passwords = Passwords(settings.hash_time_cost, settings.hash_memory_kib)
        app.state.devices = Devices(settings.token_secret, settings.device_ttl_s)
        yield

    return build_service_app(
        settings,
        title="Chirp users",
        description="Accounts, password hashes and the follow graph; issues user tokens.",
        routers=[router],
        lifespan=lifespan,
    )
