"""Fixtures: the real PostgreSQL and Redis named by AUTH_DATABASE_URL, AUTH_REDIS_URL and
AUTH_DENYLIST_REDIS_URL.

Isolation: the test session migrates its own throwaway schema (dropped at the end), so tests
never touch the tables of a running stack; tests that need more use their own schema or roll back.
Redis keys are per account, per token or per IP, and every test makes its own accounts and IPs.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from auth_service.accounts import upsert_user
from auth_service.config import Settings
from auth_service.db import create_sessionmaker
from auth_service.migrations import upgrade_head
from auth_service.models import Role, Tier

REQUIRED = ("AUTH_DATABASE_URL", "AUTH_REDIS_URL", "AUTH_DENYLIST_REDIS_URL")
EXAMPLE = (
    "AUTH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5499/auth AUTH_REDIS_URL=redis://127.0.0.1:6499/0 "
    "AUTH_DENYLIST_REDIS_URL=redis://127.0.0.1:6499/4"
)
# The key-encryption key is a secret of the deployment, not of the test run: make one per run
# (importing `auth_service.main` reads the settings from the environment).
TEST_KEY_ENCRYPTION_KEY = "test-kek-" + uuid.uuid4().hex + uuid.uuid4().hex
os.environ.setdefault("AUTH_KEY_ENCRYPTION_KEY", TEST_KEY_ENCRYPTION_KEY)


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
def settings(database_url: str, tmp_path) -> Settings:
    env = _env()
    return Settings(
        environment="test",
        database_url=database_url,
        redis_url=env["AUTH_REDIS_URL"],
        denylist_redis_url=env["AUTH_DENYLIST_REDIS_URL"],
        key_encryption_key=os.environ["AUTH_KEY_ENCRYPTION_KEY"],
        mail_backend="file",
        mail_file_path=tmp_path / "mail.jsonl",
        # Tests run over plain http://; the Secure flag itself has its own test.
        refresh_cookie_secure=False,
        # Slow-down delays are real sleeps: keep them short so the tests stay fast.
        login_slowdown_step_seconds=0.01,
        login_slowdown_max_seconds=0.05,
    )


def build_app(settings: Settings) -> FastAPI:
    # Imported late: importing the module also builds `main.app` from the environment, which
    # must only happen once `_env()` has said what is missing.
    from auth_service.main import create_app

    return create_app(settings)


def random_ip() -> str:
    """A private address no other test uses (login throttling counts per IP)."""
    number = uuid.uuid4().int
    return f"10.{number % 256}.{(number >> 8) % 256}.{(number >> 16) % 254 + 1}"


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[AsyncClient]:
    """Run the app's lifespan (engine, Redis, keys) and talk to it in-process.

    The in-process peer is 127.0.0.1, a trusted proxy: each client presents its own
    `X-Forwarded-For` address, as the edge would, so per-IP counters never meet across tests.
    """
    async with app.router.lifespan_context(app):
        transport = ASGITransport(app=app)
        async with AsyncClient(transport=transport, base_url="http://auth.test", headers={"X-Forwarded-For": random_ip()}) as client:
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


@pytest.fixture
def new_ip() -> Callable[[], str]:
    """A factory of client addresses no other test uses."""
    return random_ip


@dataclass(frozen=True)
class Account:
    id: uuid.UUID
    email: str
    password: str


@pytest.fixture
async def make_user(database_url: str, new_email: Callable[[], str]) -> AsyncIterator[Callable[..., Awaitable[Account]]]:
    """`await make_user(role=Role.ADMIN)`: a committed account with a strong password."""
    engine = create_async_engine(database_url)
    sessions = create_sessionmaker(engine)

    async def make(role: Role = Role.MEMBER, tier: Tier | None = None, email: str | None = None) -> Account:
        password = f"Fern-{uuid.uuid4().hex[:12]}"
        async with sessions() as session:
            result = await upsert_user(session, email=email or new_email(), password=password, role=role, tier=tier)
        return Account(id=result.user.id, email=result.user.email, password=password)

    yield make
    await engine.dispose()


async def login(client: AsyncClient, account: Account, *, kind: str = "mobile") -> dict[str, Any]:
    response = await client.post("/api/v1/auth/login", json={"email": account.email, "password": account.password, "client": kind})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def log_in() -> Callable[..., Awaitable[dict[str, Any]]]:
    """`await log_in(client, account)`: the token response of a successful login."""
    return login


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def auth() -> Callable[[str], dict[str, str]]:
    """`headers=auth(access_token)`."""
    return bearer


@pytest.fixture
def read_mail(settings: Settings) -> Callable[[], list[dict[str, Any]]]:
    """The mails the `file` backend wrote during this test, oldest first."""

    def read() -> list[dict[str, Any]]:
        path = settings.mail_file_path
        if path is None or not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]

    return read


@pytest.fixture
async def denylist_redis() -> AsyncIterator[Redis]:
    """A client on the deny-list Redis, to look at what the service wrote."""
    client = Redis.from_url(_env()["AUTH_DENYLIST_REDIS_URL"], decode_responses=True)
    yield client
    await client.aclose()
