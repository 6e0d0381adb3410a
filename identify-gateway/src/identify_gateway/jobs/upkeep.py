"""Scheduled upkeep (Celery beat → the worker) and the gauges the API refreshes when it is scraped.

- `check_quotas`: reads Plant.id's usage report (free), then each engine's quota from the shared
  tracker; past `quota_warning_ratio` of a quota: a `[QUOTA]` warning line and
  `gateway_engine_quota_alert{engine} = 1`; when the quota is gone: an error line and `= 2`, and the
  pipeline skips the engine (`quota_exhausted`) until the reset.
- `retention`: jobs still open after `upload_retention_s` fail (`expired`, units refunded); stored
  photos older than that are deleted; identifications (results, sync and jobs) older than
  `history_retention_days` are deleted. Cached answers expire in Redis by their own TTL (24 h).
- `queue_depths`: LLEN of each lane's list → `gateway_celery_queue_depth{queue}`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from identify_gateway.jobs.app import queue_key
from identify_gateway.jobs.lanes import LANES
from identify_gateway.jobs.runner import EXPIRED
from identify_gateway.metrics import QUEUE_DEPTH, QUOTA_ALERT, QUOTA_USED_RATIO
from identify_gateway.resilience import QuotaInfo
from identify_gateway.resilience._support import REDIS_ERRORS

if TYPE_CHECKING:
    from identify_gateway.resources import Resources

logger = logging.getLogger(__name__)
Level = Literal["ok", "warning", "exhausted", "unknown"]
_ALERT = {"ok": 0, "unknown": 0, "warning": 1, "exhausted": 2}


@dataclass(frozen=True)
class QuotaLevel:
    engine: str
    level: Level
    remaining: float | None
    limit: float | None
    used_ratio: float | None
    resets_at: float | None = None


def quota_level(engine: str, info: QuotaInfo | None, *, warning_ratio: float) -> QuotaLevel:
    if info is None:
        return QuotaLevel(engine, "unknown", None, None, None)
    ratio = None
    if info.limit:
        used = info.used if info.used is not None else (info.limit - info.remaining if info.remaining is not None else None)
        ratio = None if used is None else max(0.0, min(1.0, used / info.limit))
    if info.is_exhausted():
        level: Level = "exhausted"
    elif ratio is not None and ratio >= warning_ratio:
        level = "warning"
    else:
        level = "ok" if ratio is not None or info.remaining is not None else "unknown"
    return QuotaLevel(engine, level, info.remaining, info.limit, ratio, info.reset_at)


async def quota_levels(resources: Resources) -> dict[str, QuotaLevel]:
    """Each configured engine's quota level from the shared tracker (gauges updated)."""
    levels = {}
    for engine in resources.pipeline.engines:
        level = quota_level(engine.name, await resources.quotas.info(engine.name), warning_ratio=resources.settings.quota_warning_ratio)
        levels[engine.name] = level
        QUOTA_ALERT.labels(engine.name).set(_ALERT[level.level])
        if level.used_ratio is not None:
            QUOTA_USED_RATIO.labels(engine.name).set(level.used_ratio)
    return levels


async def check_quotas(resources: Resources) -> dict[str, QuotaLevel]:
    """The beat's quota check: refresh usage reports, then warn about engines near or out of quota."""
    for engine in resources.pipeline.engines:
        if hasattr(engine, "usage"):
            await resources.pipeline.refresh_usage(engine)
    levels = await quota_levels(resources)
    for level in levels.values():
        if level.level == "exhausted":
            resets = datetime.fromtimestamp(level.resets_at, UTC).isoformat() if level.resets_at else "an operator's reset"
            logger.error("[QUOTA] %s is out of quota: it is skipped until %s", level.engine, resets)
        elif level.level == "warning":
            logger.warning(
                "[QUOTA] %s has used %.0f%% of its quota (%s of %s left)", level.engine, 100 * (level.used_ratio or 0), _n(level.remaining), _n(level.limit)
            )
    return levels


async def queue_depths(resources: Resources) -> dict[str, int | None]:
    """Messages waiting per lane (None: the broker did not answer)."""
    depths: dict[str, int | None] = {}
    try:
        async with resources.broker_redis.pipeline(transaction=False) as pipe:
            for lane in LANES:
                pipe.llen(queue_key(resources.settings, lane))
            values = await pipe.execute()
    except REDIS_ERRORS as exc:
        logger.warning("queue depths unavailable: %r", exc)
        return dict.fromkeys(LANES)
    for lane, value in zip(LANES, values, strict=True):
        depths[lane] = int(value)
        QUEUE_DEPTH.labels(lane).set(int(value))
    return depths


async def refresh_gauges(resources: Resources) -> None:
    """What `/metrics` reads from shared state at scrape time: queue depths and quota levels."""
    await queue_depths(resources)
    await quota_levels(resources)


async def retention(resources: Resources, *, now: datetime | None = None) -> dict[str, int]:
    """Expire jobs left open too long, delete old photos, delete identifications past the history retention."""
    settings = resources.settings
    now = now or datetime.now(UTC)
    upload_cutoff = now - timedelta(seconds=settings.upload_retention_s)
    history_cutoff = now - timedelta(days=settings.history_retention_days)
    expired = 0
    for job_id in await resources.jobs.unfinished_before(upload_cutoff):
        owner = await resources.jobs.owner(job_id)
        if owner is not None:
            await resources.runner.fail_unfinished(job_id, user_id=owner, code="expired", detail=EXPIRED)
            expired += 1
    uploads = await resources.jobs.delete_uploads_before(upload_cutoff)
    identifications = await resources.jobs.delete_identifications_before(history_cutoff)
    counts = {"expired_jobs": expired, "deleted_uploads": uploads, "deleted_identifications": identifications}
    logger.info("retention: %s", counts, extra=counts)
    return counts


def _n(value: float | None) -> str:
    return "?" if value is None else f"{value:g}"
