"""The async engine and session factory, built once per process in the app's lifespan."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

# A dead database must fail a connection attempt quickly, not hang a request or a probe.
CONNECT_TIMEOUT_SECONDS = 5


def create_engine(database_url: str) -> AsyncEngine:
    """An async engine with a connection pool; `pool_pre_ping` drops connections the server closed."""
    return create_async_engine(
        database_url,
        pool_pre_ping=True,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS},
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: objects stay readable after commit without a hidden reload.
    return async_sessionmaker(engine, expire_on_commit=False)
