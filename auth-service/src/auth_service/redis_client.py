"""The Redis client, built once per process in the app's lifespan over one connection pool."""

from __future__ import annotations

from redis.asyncio import ConnectionPool, Redis

# Redis answers in microseconds; anything slower is an outage, so give up quickly.
SOCKET_TIMEOUT_SECONDS = 2.0


def create_redis(redis_url: str) -> Redis:
    """A client that owns its pool: `await client.aclose()` closes both."""
    pool = ConnectionPool.from_url(
        redis_url,
        socket_timeout=SOCKET_TIMEOUT_SECONDS,
        socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
        health_check_interval=30,  # re-check idle connections before reuse
        decode_responses=True,
    )
    return Redis.from_pool(pool)
