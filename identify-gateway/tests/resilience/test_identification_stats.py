"""IdentificationStats (identify/stats.py) against the real Redis: counts kept in memory, written in
one pipeline a little later, shared by every process; the hit rate reads them all."""

from __future__ import annotations

import time
from typing import Any

from redis.asyncio import Redis

from identify_gateway.identify.stats import IdentificationStats


async def test_counts_from_two_processes_reach_the_hit_rate_within_the_flush_interval(redis: Redis, prefix: str, until: Any) -> None:
    first = IdentificationStats(redis, prefix=f"{prefix}stats:", flush_interval_s=0.05)
    second = IdentificationStats(redis, prefix=f"{prefix}stats:", flush_interval_s=0.05)
    for how in ("computed", "hit", "hit", "joined"):
        first.record(how)
    second.record("computed")
    second.record("waited")

    assert (await first.hit_rate()).total == 0  # nothing written yet: no round trip per identification

    async def written() -> bool:
        rate = await first.hit_rate()
        return rate is not None and rate.total == 6
    assert await until(written)
    rate = await second.hit_rate()
    assert (rate.cached, rate.total) == (4, 6) and rate.rate == 4 / 6  # hit, hit, joined, waited
    assert 0 < await redis.ttl(f"{prefix}stats:{int(time.time() // 60)}") <= (15 + 2) * 60


async def test_closing_writes_what_is_left_at_once(redis: Redis, prefix: str) -> None:
    stats = IdentificationStats(redis, prefix=f"{prefix}stats:", flush_interval_s=60)
    stats.record("hit")
    stats.record("computed")

    await stats.aclose()

    rate = await IdentificationStats(redis, prefix=f"{prefix}stats:").hit_rate()
    assert rate is not None and (rate.cached, rate.total) == (1, 2)


async def test_redis_down_loses_the_counts_and_raises_nothing(prefix: str, dead_redis_url: str) -> None:
    dead = Redis.from_url(dead_redis_url, socket_connect_timeout=0.2, socket_timeout=0.2)
    stats = IdentificationStats(dead, prefix=f"{prefix}stats:", flush_interval_s=60)
    stats.record("hit")

    await stats.aclose()  # logged, not raised

    assert await stats.hit_rate() is None
    await dead.aclose()
