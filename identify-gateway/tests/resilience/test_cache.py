"""ResultCache and cache_key against the real Redis."""

from __future__ import annotations

import asyncio
import hashlib
import logging

import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from identify_gateway.resilience.cache import ResultCache, cache_key

SHA = hashlib.sha256(b"a photo").hexdigest()


def sample(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


async def test_a_stored_result_comes_back_equal(redis: Redis, prefix: str) -> None:
    cache = ResultCache(redis, prefix=prefix, default_ttl_s=60)
    document = {"plant_name": "Aloe vera", "confidence": 0.97, "suggestions": [{"name": "Aloe vera", "by": ["plant_id"]}], "unicode": "Pl@ntNet – été"}
    hits = sample("gateway_cache_hits_total")

    await cache.set("k1", document)

    assert await cache.get("k1") == document
    assert sample("gateway_cache_hits_total") == hits + 1


async def test_a_missing_key_is_a_counted_miss(redis: Redis, prefix: str) -> None:
    cache = ResultCache(redis, prefix=prefix, default_ttl_s=60)
    misses = sample("gateway_cache_misses_total")

    assert await cache.get("absent") is None
    assert sample("gateway_cache_misses_total") == misses + 1


async def test_entries_carry_the_default_or_given_ttl_and_expire(redis: Redis, prefix: str) -> None:
    cache = ResultCache(redis, prefix=prefix, default_ttl_s=600)

    await cache.set("default", {"a": 1})
    await cache.set("short", {"a": 2}, ttl_s=1)

    assert 590 <= await redis.ttl(f"{prefix}default") <= 600
    assert await redis.ttl(f"{prefix}short") == 1
    await asyncio.sleep(1.1)
    assert await cache.get("short") is None
    assert await cache.get("default") == {"a": 1}


async def test_ttl_jitter_spreads_expiry_within_bounds(redis: Redis, prefix: str) -> None:
    cache = ResultCache(redis, prefix=prefix, default_ttl_s=1000, ttl_jitter=0.1)

    for n in range(20):
        await cache.set(f"j{n}", {"n": n})
    ttls = {await redis.ttl(f"{prefix}j{n}") for n in range(20)}

    assert all(895 <= ttl <= 1100 for ttl in ttls) and len(ttls) > 1


async def test_a_non_positive_ttl_stores_nothing(redis: Redis, prefix: str) -> None:
    cache = ResultCache(redis, prefix=prefix, default_ttl_s=60)

    await cache.set("never", {"a": 1}, ttl_s=0)

    assert await redis.exists(f"{prefix}never") == 0


async def test_an_unreadable_entry_is_a_miss_not_an_error(redis: Redis, prefix: str) -> None:
    cache = ResultCache(redis, prefix=prefix, default_ttl_s=60)
    await redis.set(f"{prefix}broken", b"\x00not json")

    assert await cache.get("broken") is None


async def test_redis_down_fails_open_logged_and_counted(dead_redis: Redis, caplog: pytest.LogCaptureFixture) -> None:
    cache = ResultCache(dead_redis, default_ttl_s=60)
    errors_get = sample("gateway_cache_errors_total", {"op": "get"})
    errors_set = sample("gateway_cache_errors_total", {"op": "set"})

    with caplog.at_level(logging.WARNING):
        await cache.set("k", {"a": 1})  # no exception
        assert await cache.get("k") is None

    assert sample("gateway_cache_errors_total", {"op": "get"}) == errors_get + 1
    assert sample("gateway_cache_errors_total", {"op": "set"}) == errors_set + 1
    assert "fail open" in caplog.text


def test_cache_key_is_stable_and_order_independent() -> None:
    one = cache_key(image_sha256=SHA, params={"language": "en", "health": "false"}, engine_versions={"plant_id": "v3", "plantnet": "v2"})
    two = cache_key(image_sha256=SHA.upper(), params={"health": "false", "language": "en"}, engine_versions={"plantnet": "v2", "plant_id": "v3"})

    assert one == two
    assert len(one) == 64 and int(one, 16) >= 0


@pytest.mark.parametrize(
    "change",
    [
        {"image_sha256": hashlib.sha256(b"another photo").hexdigest()},
        {"params": {"language": "de", "health": "false"}},
        {"params": {"language": "en", "health": "false", "organs": "leaf"}},
        {"engine_versions": {"plant_id": "v3.1", "plantnet": "v2"}},
        {"image_sha256": [SHA, SHA]},
    ],
)
def test_cache_key_changes_with_anything_that_changes_the_answer(change: dict[str, object]) -> None:
    base = {"image_sha256": SHA, "params": {"language": "en", "health": "false"}, "engine_versions": {"plant_id": "v3", "plantnet": "v2"}}

    assert cache_key(**{**base, **change}) != cache_key(**base)  # type: ignore[arg-type]


def test_cache_key_refuses_what_would_make_it_ambiguous() -> None:
    with pytest.raises(ValueError, match="64 hex"):
        cache_key(image_sha256="abc", params={}, engine_versions={})
    with pytest.raises(TypeError, match="strings"):
        cache_key(image_sha256=SHA, params={"latitude": 49.2}, engine_versions={})  # type: ignore[dict-item]
