"""The posts service app."""

from fastapi import FastAPI

from services.common.service_app import build_service_app
from services.common.settings import settings_from_environment
from services.posts.routes import router
from services.posts.settings import PostsSettings


def create_app(settings: PostsSettings | None = None) -> FastAPI:
    return build_service_app(
        settings or settings_from_environment(PostsSettings),
        title="Chirp posts",
        description="Creates posts (idempotently), keeps user timelines, publishes post events.",
        routers=[router],
    )
