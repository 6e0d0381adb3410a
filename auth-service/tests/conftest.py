"""Fixtures: the real PostgreSQL and Redis named by AUTH_DATABASE_URL and AUTH_REDIS_URL.

Isolation: the test session migrates its own throwaway schema (dropped at the end), so tests
never touch the tables of a running stack; tests that need more use their own schema or roll back.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from auth_service.config import Settings
from auth_service.migrations import upgrade_head

REQUIRED = ("AUTH_DATABASE_URL", "AUTH_REDIS_URL")
EXAMPLE = "AUTH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5499/auth AUTH_REDIS_URL=redis://127.0.0.1:6499/0"


def _env() -> dict[str, str]:
    missing = [name for name in REQUIRED if not os.environ.get(name)]
    if missing:
        pytest.fail(
            f"auth-service tests need a real PostgreSQL and Redis: set {' and '.join(missing)}, e.g. {EXAMPLE}",
            pytrace=False,
        )
    return {name: os.environ[name] for name in REQUIRED}


def url_in_schema(database_url: str, schema: str) -> str:
    """The same database, with `schema` as the only schema on the search path."""
    url = make_url(database_url).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@contextmanager
def fresh_schema(database_url: str) -> Iterator[str]:
    """Create an empty schema, yield the URL that works inside it, drop it afterwards."""
    schema = f"auth_test_{uuid.uuid4().hex[:12]}"
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
def dead_redis_url() -> str:
    """A Redis URL on a local port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


@pytest.fixture
def empty_schema_url() -> Iterator[str]:
    """The URL of a schema of its own, empty (not migrated)."""
    with fresh_schema(_env()["AUTH_DATABASE_URL"]) as url:
        yield url


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A migrated schema for the whole test session."""
    with fresh_schema(_env()["AUTH_DATABASE_URL"]) as url:
        upgrade_head(url)
        yield url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(environment="test", database_url=database_url, redis_url=_env()["AUTH_REDIS_URL"])


def build_app(settings: Settings) -> FastAPI:
    # Imported late: importing the module also builds `main.app` from the environment, which
    # must only happen once `_env()` has said what is missing.
    from auth_service.main import create_app

    return create_app(settings)


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[AsyncClient]:
    """Run the app's lifespan (engine, Redis) and talk to it in-process."""
    async with app.router.lifespan_context(app):
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://auth.test") as client:
            yield client


@pytest.fixture
def make_app() -> Callable[[Settings], FastAPI]:
    return build_app


@pytest.fixture
def running() -> Callable[[FastAPI], AbstractAsyncContextManager[AsyncClient]]:
    """`async with running(app) as client:` for tests that build their own app."""
    return serve


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[AsyncClient]:
    async with serve(build_app(settings)) as client:
        yield client


@pytest.fixture
async def session(database_url: str) -> AsyncIterator[AsyncSession]:
    """A session whose work, commits included, is rolled back after the test."""
    engine = create_async_engine(database_url)
    async with engine.connect() as connection:
        transaction = await connection.begin()
        # Commits inside the test release savepoints; the outer transaction is never committed.
        async with AsyncSession(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False) as session:
            yield session
        await transaction.rollback()
    await engine.dispose()


@pytest.fixture
def new_email() -> Callable[[], str]:
    """A factory of addresses no other test uses."""
    return lambda: f"user-{uuid.uuid4().hex[:10]}@plant.test"
