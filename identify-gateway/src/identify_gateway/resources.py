"""Long-lived clients, created once per process in the lifespan and closed at shutdown."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import httpx
from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from identify_gateway import __version__
from identify_gateway.config import Settings
from identify_gateway.db import create_engine, create_sessionmaker

USER_AGENT = f"plant-community-identify-gateway/{__version__}"


@dataclass(frozen=True)
class Resources:
    """What request handlers share; read it through the aliases in `deps`."""

    settings: Settings
    db_engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    redis: Redis
    plant_id_http: httpx.AsyncClient
    plantnet_http: httpx.AsyncClient


def create_redis(settings: Settings) -> Redis:
    """One pool per process; timeouts on the socket, never by cancelling a command (redis-py CVE-2023-28858)."""
    pool = ConnectionPool.from_url(
        settings.redis_url,
        max_connections=settings.redis_max_connections,
        socket_timeout=settings.redis_timeout_s,
        socket_connect_timeout=settings.redis_timeout_s,
        # One quick retry: a dropped connection is re-made at once, a dead Redis is reported in milliseconds.
        retry=Retry(ExponentialBackoff(cap=0.05, base=0.01), retries=1),
        health_check_interval=30,
    )
    return Redis.from_pool(pool)  # the client owns the pool and closes it


def create_engine_client(base_url: str, *, timeout_s: float, connect_timeout_s: float) -> httpx.AsyncClient:
    """One keep-alive client per identification engine; credentials are added per request by the engine code."""
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        headers={"User-Agent": USER_AGENT},
    )


@asynccontextmanager
async def open_resources(settings: Settings) -> AsyncIterator[Resources]:
    """Create every shared client; close them all on exit, even if one fails to close."""
    async with AsyncExitStack() as stack:
        db_engine = create_engine(settings)
        stack.push_async_callback(db_engine.dispose)
        redis = create_redis(settings)
        stack.push_async_callback(redis.aclose)
        plant_id_http = await stack.enter_async_context(
            create_engine_client(settings.plant_id_base_url, timeout_s=settings.plant_id_timeout_s, connect_timeout_s=settings.engine_connect_timeout_s)
        )
        plantnet_http = await stack.enter_async_context(
            create_engine_client(settings.plantnet_base_url, timeout_s=settings.plantnet_timeout_s, connect_timeout_s=settings.engine_connect_timeout_s)
        )
        yield Resources(
            settings=settings,
            db_engine=db_engine,
            sessions=create_sessionmaker(db_engine),
            redis=redis,
            plant_id_http=plant_id_http,
            plantnet_http=plantnet_http,
        )
