"""Fixtures: the real PostgreSQL and Redis named by the GATEWAY_* variables (never mocks).

Isolation: migration tests work in throwaway schemas (dropped afterwards); the app tests need no
tables; Redis keys are not written yet.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

REQUIRED = ("GATEWAY_DATABASE_URL", "GATEWAY_REDIS_URL", "GATEWAY_CELERY_BROKER_URL")
EXAMPLE = (
    "GATEWAY_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5499/gateway "
    "GATEWAY_REDIS_URL=redis://127.0.0.1:6499/1 GATEWAY_CELERY_BROKER_URL=redis://127.0.0.1:6499/2"
)


def env() -> dict[str, str]:
    missing = [name for name in REQUIRED if not os.environ.get(name)]
    if missing:
        pytest.fail(f"identify-gateway tests need a real PostgreSQL and Redis: set {', '.join(missing)}, e.g. {EXAMPLE}", pytrace=False)
    return {name: os.environ[name] for name in REQUIRED}


@pytest.fixture(scope="session", autouse=True)
def _require_environment() -> None:
    env()


def url_in_schema(database_url: str, schema: str) -> str:
    """The same database, with `schema` as the only schema on the search path."""
    url = make_url(database_url).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@contextmanager
def fresh_schema(database_url: str) -> Iterator[str]:
    """Create an empty schema, yield the URL that works inside it, drop it afterwards."""
    schema = f"gateway_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(database_url)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield url_in_schema(database_url, schema)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def empty_schema_url() -> Iterator[str]:
    """The URL of a schema of its own, empty (not migrated)."""
    with fresh_schema(env()["GATEWAY_DATABASE_URL"]) as url:
        yield url


@pytest.fixture
def dead_redis_url() -> str:
    """A Redis URL on a local port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}/1"


@pytest.fixture
def make_settings() -> Callable[..., Any]:
    """Settings for the scratch servers, with `overrides` on top."""
    from identify_gateway.config import Settings

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "environment": "test",
            "database_url": env()["GATEWAY_DATABASE_URL"],
            "redis_url": env()["GATEWAY_REDIS_URL"],
            "celery_broker_url": env()["GATEWAY_CELERY_BROKER_URL"],
        }
        return Settings(**{**values, **overrides})

    return make


def build_app(settings: Any) -> FastAPI:
    # Imported late: importing the module builds `main.app`, which is harmless, but keeps
    # collection free of the service's imports when the environment is missing.
    from identify_gateway.main import create_app

    return create_app(settings)


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[AsyncClient]:
    """Run the app's lifespan (engine, Redis, engine clients) and talk to it in-process."""
    async with app.router.lifespan_context(app):
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://gateway.test") as client:
            yield client


@pytest.fixture
def make_app(make_settings: Callable[..., Any]) -> Callable[..., FastAPI]:
    """`make_app(**setting_overrides)`: an app on the scratch servers."""
    return lambda **overrides: build_app(make_settings(**overrides))


@pytest.fixture
def running() -> Callable[[FastAPI], Any]:
    """`async with running(app) as client:` for tests that build their own app."""
    return serve


@pytest.fixture
async def client(make_settings: Callable[..., Any]) -> AsyncIterator[AsyncClient]:
    async with serve(build_app(make_settings())) as client:
        yield client
