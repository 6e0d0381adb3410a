"""The admins' live status: each engine's breaker, failures and quota, the cache hit rate and the
lanes' queue depths, read from the shared state (the same for every replica)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from identify_gateway.jobs.upkeep import queue_depths, quota_levels
from identify_gateway.routes.health import redis_answers

if TYPE_CHECKING:
    from identify_gateway.resources import Resources

SOURCES = ("plant_id", "plantnet", "gbif", "cms")


async def status_snapshot(resources: Resources) -> dict[str, Any]:
    pipeline, settings = resources.pipeline, resources.settings
    configured = {e.name for e in pipeline.engines}
    enabled = {"plant_id": "plant_id" in configured, "plantnet": "plantnet" in configured, "gbif": settings.gbif_enabled, "cms": pipeline.cms_enabled}
    snapshots, levels, depths, hit_rate, redis_ok = await asyncio.gather(
        asyncio.gather(*(resources.breakers[name].snapshot() for name in SOURCES)),
        quota_levels(resources),
        queue_depths(resources),
        resources.stats.hit_rate(),
        redis_answers(resources.redis),
    )
    engines = {}
    for name, snap in zip(SOURCES, snapshots, strict=True):
        level = levels.get(name)
        engines[name] = {
            "enabled": enabled[name],
            "circuit_state": snap.state,
            "fail_count": snap.fail_count,
            "fail_max": snap.fail_max,
            "opened_until": _iso(snap.opened_until),
            "forced": snap.forced,
            "quota": None if level is None else {
                "level": level.level, "remaining": level.remaining, "limit": level.limit, "used_ratio": level.used_ratio,
                "resets_at": _iso(level.resets_at),
            },
        }  # fmt: skip
    return {
        "at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "engines": engines,
        "cache": {
            "hit_rate": hit_rate.rate if hit_rate else None,
            "cached": hit_rate.cached if hit_rate else None,
            "total": hit_rate.total if hit_rate else None,
            "window_min": hit_rate.window_min if hit_rate else None,
        },
        "queues": depths,
        "redis": {"available": redis_ok},
        "listeners": resources.hub.listening,
    }


def _iso(timestamp: float | None) -> str | None:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds").replace("+00:00", "Z") if timestamp else None
