"""The dms service app."""

from fastapi import FastAPI

from services.common.service_app import build_service_app
from services.common.settings import settings_from_environment
from services.dms.routes import router
from services.dms.settings import DmsSettings


def create_app(settings: DmsSettings | None = None) -> FastAPI:
    return build_service_app(
        settings or settings_from_environment(DmsSettings),
        title="Chirp dms",
        description="Direct-message conversations with gap-free per-conversation sequence numbers.",
        routers=[router],
    )
