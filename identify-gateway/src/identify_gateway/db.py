"""Database access: the async engine and the session factory built from it."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from identify_gateway.config import Settings


def create_engine(settings: Settings) -> AsyncEngine:
    """One engine (and pool) per process, created in the lifespan."""
    return create_async_engine(
        settings.database_url,
        pool_size=10,
        max_overflow=10,
        pool_pre_ping=True,  # survive a PostgreSQL restart without a burst of failed requests
        pool_timeout=5,  # wait at most this long for a free connection, then fail the request
        connect_args={"connect_timeout": 5},
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # Objects stay readable after commit, so handlers can answer from them without another query.
    return async_sessionmaker(engine, expire_on_commit=False)


async def ping(engine: AsyncEngine) -> None:
    """Raise unless PostgreSQL answers `SELECT 1`."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
