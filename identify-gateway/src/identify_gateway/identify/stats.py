"""How identifications were answered, counted cluster-wide per minute in Redis (`gw:stats:`), for the
status page's cache hit rate (Prometheus counters are per process; this is every process together).

Redis down: counts are lost (logged at most every 10 s) and the rate reads as unknown; nothing waits.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from redis.asyncio import Redis

from identify_gateway.resilience._support import REDIS_ERRORS, QuietLog

CACHED = frozenset({"hit", "joined", "waited"})  # answered without an engine call for this identification
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HitRate:
    cached: int
    total: int
    window_min: int

    @property
    def rate(self) -> float | None:
        return self.cached / self.total if self.total else None


class IdentificationStats:
    """Per-minute hashes `gw:stats:<minute>` of `how` → count, kept a little longer than the window.

    Args:
        redis: the process's shared async client.
        prefix: key prefix of this concern.
        window_min: minutes the hit rate is computed over.
    """

    def __init__(self, redis: Redis, *, prefix: str = "gw:stats:", window_min: int = 15) -> None:
        self._redis = redis
        self.prefix = prefix
        self.window_min = window_min
        self._quiet = QuietLog(logger)

    async def record(self, how: str) -> None:
        key = f"{self.prefix}{int(time.time() // 60)}"
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.hincrby(key, how, 1)
                pipe.expire(key, (self.window_min + 2) * 60)
                await pipe.execute()
        except REDIS_ERRORS as exc:
            self._quiet.warning("record", "identification stats not recorded (Redis unavailable): %r", exc)

    async def hit_rate(self) -> HitRate | None:
        """Share of identifications answered from the cache (or a shared computation) over the window; None if Redis fails."""
        now = int(time.time() // 60)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for minute in range(now - self.window_min + 1, now + 1):
                    pipe.hgetall(f"{self.prefix}{minute}")
                buckets = await pipe.execute()
        except REDIS_ERRORS as exc:
            self._quiet.warning("read", "identification stats unavailable: %r", exc)
            return None
        cached = total = 0
        for bucket in buckets:
            for how, count in bucket.items():
                name = how.decode() if isinstance(how, bytes) else str(how)
                total += int(count)
                cached += int(count) if name in CACHED else 0
        return HitRate(cached=cached, total=total, window_min=self.window_min)
