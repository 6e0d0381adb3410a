"""The ASGI app: `uvicorn auth_service.main:app`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from plant_shared.fastapi_support import instrument
from plant_shared.logging import configure_logging

from auth_service import __version__
from auth_service.config import Settings, get_settings
from auth_service.db import create_engine, create_sessionmaker
from auth_service.probes import dependency_checks
from auth_service.redis_client import create_redis
from auth_service.routes import health

SERVICE = "auth-service"
API_PREFIX = "/api/v1/auth"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the long-lived clients once for the process; close them on shutdown."""
    settings: Settings = app.state.settings
    engine = create_engine(settings.database_url)
    redis = create_redis(settings.redis_url)
    app.state.engine = engine
    app.state.sessionmaker = create_sessionmaker(engine)
    app.state.redis = redis
    try:
        yield
    finally:
        await redis.aclose()
        await engine.dispose()


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; tests pass their own `settings`, servers read the environment."""
    settings = settings or get_settings()
    configure_logging(service=SERVICE, level=settings.log_level)
    app = FastAPI(
        title="Plant Community auth service",
        version=__version__,
        debug=settings.debug,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        # Under the prefix so that the edge, which routes only /api/v1/auth/..., reaches it.
        swagger_ui_oauth2_redirect_url=f"{API_PREFIX}/docs/oauth2-redirect",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.include_router(health.router)
    return instrument(app, service=SERVICE, ready_checks=dependency_checks)


app = create_app()
