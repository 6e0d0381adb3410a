"""The gateway's ASGI app: `uvicorn identify_gateway.main:app`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request

from identify_gateway import __version__
from identify_gateway.config import Settings, get_settings
from identify_gateway.db import ping as ping_database
from identify_gateway.jobs.upkeep import refresh_gauges
from identify_gateway.resources import Resources, open_resources
from identify_gateway.routes import API_PREFIX, health, history, identifications, identify, sockets, status
from plant_shared.errortracking import init_from_settings
from plant_shared.fastapi_support import NO_OPENTELEMETRY, instrument
from plant_shared.health import Check
from plant_shared.logging import configure_logging
from plant_shared.request_id import ASGIApp, Receive, Scope, Send

SERVICE = "identify-gateway"
log = logging.getLogger(__name__)


class GatewayApp(FastAPI):
    """The gateway's app, holding the process's `Resources` (set by the lifespan) as a plain attribute.

    Read on every request (the token verifier, the clients): `app.state`, Starlette's bag of
    attributes, answers each read through a failed look-up and a Python `__getattr__`, about a
    microsecond inside a request, as much as verifying a reused token.
    """

    resources: Resources


class ScrapeGauges:
    """Refresh the gauges read from shared state (queue depths, quota levels) when `/metrics` is scraped.

    Args:
        app: the wrapped ASGI app.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/metrics":
            resources = getattr(scope["app"], "resources", None)
            if resources is not None:
                try:
                    await refresh_gauges(resources)
                except Exception:  # a scrape must never fail for this
                    log.exception("refreshing the shared-state gauges failed")
        await self.app(scope, receive, send)


def ready_checks(request: Request) -> dict[str, Check]:
    """`/readyz` passes when the gateway's PostgreSQL and Redis both answer."""
    resources: Resources = request.app.resources
    return {"postgres": lambda: ping_database(resources.db_engine), "redis": resources.redis.ping}


def create_app(settings: Settings | None = None) -> GatewayApp:
    """Build the app; settings are read at startup (from the environment unless given), not at import."""

    @asynccontextmanager
    async def lifespan(app: GatewayApp) -> AsyncIterator[None]:
        active = settings or get_settings()
        configure_logging(service=SERVICE, level=active.log_level)
        init_from_settings(active, service=SERVICE, distribution="identify-gateway")
        # httpx logs every request URL at INFO, and Pl@ntNet's API key travels in the query string.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        async with open_resources(active) as resources:
            app.resources = resources
            yield

    app = GatewayApp(
        title="Plant Community identification gateway",
        version=__version__,
        lifespan=lifespan,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        telemetry=NO_OPENTELEMETRY,
    )
    app.include_router(identify.router)
    app.include_router(health.router)
    app.include_router(history.router)
    app.include_router(identifications.router)
    app.include_router(status.router)
    app.include_router(status.csp_router)
    app.include_router(sockets.router)
    app.add_middleware(ScrapeGauges)
    instrument(app, service=SERVICE, ready_checks=ready_checks)
    return app


app = create_app()
