"""QuotaTracker against the real Redis, fed with the engines' wire formats (external-apis.md 1.6, 2.2, 2.4)."""

from __future__ import annotations

import time

from prometheus_client import REGISTRY
from redis.asyncio import Redis

from identify_gateway.resilience.quotas import QuotaTracker, next_utc_midnight


async def test_plantnet_remaining_comes_from_the_body_and_the_reset_from_the_header(redis: Redis, prefix: str) -> None:
    tracker = QuotaTracker(redis, prefix=prefix)

    await tracker.record_plantnet({"results": [], "remainingIdentificationRequests": 497},
                                  {"RateLimit-Policy": '"dailyQuota";q=500;w=86400', "RateLimit": '"dailyQuota";r=497;t=3600'})

    info = await tracker.info("plantnet")
    assert await tracker.remaining("plantnet") == 497 and not await tracker.exhausted("plantnet")
    assert info is not None and info.limit == 500 and info.reset_at is not None and abs(info.reset_at - (time.time() + 3600)) < 5
    assert 3590_000 < await redis.pttl(f"{prefix}plantnet") <= 3600_000  # forgotten at the reset
    assert REGISTRY.get_sample_value("gateway_engine_quota_remaining", {"engine": "plantnet"}) == 497


async def test_plantnet_headers_alone_are_enough_and_zero_means_exhausted(redis: Redis, prefix: str) -> None:
    tracker = QuotaTracker(redis, prefix=prefix)

    await tracker.record_plantnet(None, {"ratelimit": '"dailyQuota";r=0;t=120'})  # e.g. a 404 "Species not found"

    assert await tracker.remaining("plantnet") == 0
    assert await tracker.exhausted("plantnet")


async def test_plantnet_without_a_reset_header_resets_at_utc_midnight(redis: Redis, prefix: str) -> None:
    tracker = QuotaTracker(redis, prefix=prefix)

    await tracker.record_plantnet({"remainingIdentificationRequests": 12})

    info = await tracker.info("plantnet")
    assert info is not None and info.reset_at == next_utc_midnight()


async def test_plant_id_usage_info_gives_the_tightest_period(redis: Redis, prefix: str) -> None:
    tracker = QuotaTracker(redis, prefix=prefix)
    usage = {
        "active": True,
        "credit_limits": {"day": 10, "week": None, "month": None, "total": 100},
        "used": {"day": 7, "week": 7, "month": 7, "total": 40},
        "can_use_credits": {"value": True, "reason": None},
        "remaining": {"day": 3, "week": None, "month": None, "total": 60},
    }

    await tracker.record_plant_id_usage(usage)

    info = await tracker.info("plant_id")
    assert await tracker.remaining("plant_id") == 3
    assert info is not None and info.limit == 10 and info.used == 7
    assert not await tracker.exhausted("plant_id") and await tracker.exhausted("plant_id", cost=4)


async def test_plant_id_cannot_use_credits_is_exhausted_whatever_the_numbers(redis: Redis, prefix: str) -> None:
    tracker = QuotaTracker(redis, prefix=prefix)
    reason = "The specified api key does not have sufficient number of available credits."

    await tracker.record_plant_id_usage({"active": True, "credit_limits": {"total": 100}, "used": {"total": 100.0},
                                         "can_use_credits": {"value": False, "reason": reason}, "remaining": {"total": 0.5}})

    info = await tracker.info("plant_id")
    assert await tracker.exhausted("plant_id") and await tracker.remaining("plant_id") == 0
    assert info is not None and info.reason == reason


async def test_a_429_marks_exhausted_until_the_reset(redis: Redis, prefix: str) -> None:
    tracker = QuotaTracker(redis, prefix=prefix)

    await tracker.mark_exhausted("plantnet", reason="429 Too Many Requests", reset_at=time.time() + 1)
    assert await tracker.exhausted("plantnet")
    await tracker.mark_exhausted("plant_id", reason="429 out of credits")

    time.sleep(1.1)
    assert not await tracker.exhausted("plantnet")  # the quota was reset
    assert await tracker.remaining("plantnet") is None
    assert await tracker.exhausted("plant_id")  # no reset time: until a new report


async def test_every_process_sees_the_same_report(redis: Redis, prefix: str) -> None:
    await QuotaTracker(redis, prefix=prefix).record("plantnet", remaining=42)

    assert await QuotaTracker(redis, prefix=prefix).remaining("plantnet") == 42


async def test_unknown_is_not_exhausted(redis: Redis, prefix: str) -> None:
    tracker = QuotaTracker(redis, prefix=prefix)

    assert await tracker.remaining("plant_id") is None
    assert not await tracker.exhausted("plant_id")


async def test_redis_down_answers_from_this_processs_memory(dead_redis: Redis) -> None:
    tracker = QuotaTracker(dead_redis)

    assert await tracker.remaining("plantnet") is None and not await tracker.exhausted("plantnet")
    await tracker.record_plantnet({"remainingIdentificationRequests": 0})

    assert await tracker.remaining("plantnet") == 0
    assert await tracker.exhausted("plantnet")
