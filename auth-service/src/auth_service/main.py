"""The ASGI app: `uvicorn auth_service.main:app`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from plant_shared.errors import error_body
from plant_shared.errortracking import init_from_settings
from plant_shared.fastapi_support import NO_OPENTELEMETRY, instrument
from plant_shared.logging import configure_logging
from plant_shared.tokens import DenylistMirror
from redis.exceptions import RedisError

from auth_service import __version__, passwords
from auth_service.body_limit import BodyLimitMiddleware
from auth_service.config import Settings, get_settings
from auth_service.db import create_engine, create_sessionmaker
from auth_service.denylist import DenyList
from auth_service.key_encryption import KeyEncryptor
from auth_service.keyring import KeyRing, NoSigningKeyError
from auth_service.login_throttle import LoginThrottle
from auth_service.mail import create_mailer
from auth_service.probes import dependency_checks
from auth_service.redis_client import create_redis
from auth_service.routes import account, admin, health, jwks, password_reset, service_token, session
from auth_service.token_service import TokenService
from auth_service.tokens_verify import AccessTokenVerifier

SERVICE = "auth-service"
API_PREFIX = "/api/v1/auth"
log = logging.getLogger(__name__)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the long-lived clients and load the signing keys once for the process; close on shutdown."""
    settings: Settings = app.state.settings
    engine = create_engine(settings.database_url)
    sessionmaker = create_sessionmaker(engine)
    redis = create_redis(settings.redis_url)
    denylist_redis = create_redis(settings.denylist_redis_url)
    keyring = KeyRing(sessionmaker, KeyEncryptor(settings.key_encryption_key), refresh_seconds=settings.key_refresh_seconds)
    # The deny-list in memory, kept current from `deny:events`: our own endpoints verify without a
    # Redis round trip while it is fresh (one `MGET` per token otherwise).
    denylist_mirror = DenylistMirror(denylist_redis, client_name=f"{SERVICE}-denylist-mirror")
    longest_token_seconds = max(settings.access_token_ttl_seconds, settings.service_token_ttl_seconds)
    denylist = DenyList(denylist_redis, longest_token_seconds=longest_token_seconds, mirror=denylist_mirror)
    state = app.state
    state.engine, state.sessionmaker, state.redis, state.denylist_redis = engine, sessionmaker, redis, denylist_redis
    state.keyring, state.denylist, state.denylist_mirror = keyring, denylist, denylist_mirror
    state.verifier = AccessTokenVerifier(keyring=keyring, denylist=denylist_redis, issuer=settings.issuer, mirror=denylist_mirror)
    state.tokens = TokenService(settings=settings, keyring=keyring, denylist=denylist)
    state.login_throttle = LoginThrottle(redis, settings)
    state.mailer = create_mailer(settings)
    try:
        await keyring.start()
    except Exception:  # the database may not be up yet: keep trying, report not ready meanwhile
        log.exception("could not load the signing keys; retrying every %s s", settings.key_refresh_seconds)
    refresher = asyncio.create_task(keyring.run_refresh_loop(), name="signing-key-refresh")
    await denylist_mirror.start()  # not fresh yet is fine: verifications read Redis until it is
    await passwords.warm_up()
    try:
        yield
    finally:
        refresher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await refresher
        await denylist_mirror.stop()
        await denylist_redis.aclose()
        await redis.aclose()
        await engine.dispose()


def _install_dependency_errors(app: FastAPI) -> None:
    """Redis away or no signing key yet: 503 with the envelope (the request may be retried), not 500."""

    @app.exception_handler(RedisError)
    async def _redis_down(_: Request, exc: RedisError) -> JSONResponse:
        log.error("redis unavailable: %s", type(exc).__name__)
        return JSONResponse(error_body("A dependency is unavailable; try again shortly.", "service_unavailable"), status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(NoSigningKeyError)
    async def _no_key(_: Request, exc: NoSigningKeyError) -> JSONResponse:
        return JSONResponse(error_body("The service is starting; try again shortly.", "service_unavailable"), status_code=503, headers={"Retry-After": "5"})


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; tests pass their own `settings`, servers read the environment."""
    settings = settings or get_settings()
    configure_logging(service=SERVICE, level=settings.log_level)
    init_from_settings(settings, service=SERVICE, distribution="auth-service")
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
        telemetry=NO_OPENTELEMETRY,
    )
    app.state.settings = settings
    for module in (health, session, account, password_reset, admin, service_token, jwks):
        app.include_router(module.router)
    _install_dependency_errors(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    return instrument(app, service=SERVICE, ready_checks=dependency_checks)


app = create_app()
