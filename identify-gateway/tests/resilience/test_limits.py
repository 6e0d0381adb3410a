"""RateLimiter and ConcurrencyLimiter against the real Redis."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from identify_gateway.resilience.limits import ConcurrencyLimiter, RateLimiter


async def test_two_hundred_concurrent_hits_admit_exactly_the_limit(redis: Redis, prefix: str) -> None:
    limiter = RateLimiter(redis, prefix=prefix)

    decisions = await asyncio.gather(*(limiter.hit("user:1", limit=50, window_s=3600) for _ in range(200)))

    assert sum(d.allowed for d in decisions) == 50
    assert sorted(d.remaining for d in decisions if d.allowed) == list(range(50))
    assert await redis.zcard(f"{prefix}user:1") == 50


async def test_a_denied_hit_says_when_to_retry_and_takes_nothing(redis: Redis, prefix: str) -> None:
    limiter = RateLimiter(redis, prefix=prefix)
    for _ in range(3):
        assert (await limiter.hit("user:1", limit=3, window_s=60)).allowed

    denied = await limiter.hit("user:1", limit=3, window_s=60)

    assert not denied.allowed and denied.remaining == 0 and denied.limit == 3
    assert 59 <= denied.retry_after_s <= 60 and 59 <= denied.reset_s <= 60
    assert denied.headers() == {"RateLimit-Limit": "3", "RateLimit-Remaining": "0", "RateLimit-Reset": str(denied.reset_s),
                                "Retry-After": str(denied.retry_after_s)}
    assert await redis.zcard(f"{prefix}user:1") == 3


async def test_the_window_slides(redis: Redis, prefix: str) -> None:
    limiter = RateLimiter(redis, prefix=prefix)
    assert (await limiter.hit("k", limit=2, window_s=1)).allowed
    await asyncio.sleep(0.5)
    assert (await limiter.hit("k", limit=2, window_s=1)).allowed
    denied = await limiter.hit("k", limit=2, window_s=1)
    assert not denied.allowed and denied.retry_after_s == 1

    await asyncio.sleep(0.55)  # the first hit has left the window, the second has not

    assert (await limiter.hit("k", limit=2, window_s=1)).allowed
    assert not (await limiter.hit("k", limit=2, window_s=1)).allowed


async def test_cost_counts_several_units_and_a_cost_above_the_limit_never_passes(redis: Redis, prefix: str) -> None:
    limiter = RateLimiter(redis, prefix=prefix)

    first = await limiter.hit("k", limit=5, window_s=60, cost=3)
    second = await limiter.hit("k", limit=5, window_s=60, cost=3)
    huge = await limiter.hit("other", limit=5, window_s=60, cost=6)

    assert first.allowed and first.remaining == 2
    assert not second.allowed and second.remaining == 2
    assert not huge.allowed and huge.retry_after_s == 60


async def test_refund_gives_units_back(redis: Redis, prefix: str) -> None:
    limiter = RateLimiter(redis, prefix=prefix)
    for _ in range(2):
        await limiter.hit("k", limit=2, window_s=60)
    assert not (await limiter.hit("k", limit=2, window_s=60)).allowed

    await limiter.refund("k")

    again = await limiter.hit("k", limit=2, window_s=60)
    assert again.allowed and again.remaining == 0


async def test_keys_expire_with_their_window(redis: Redis, prefix: str) -> None:
    limiter = RateLimiter(redis, prefix=prefix)

    await limiter.hit("k", limit=5, window_s=60)

    assert 0 < await redis.pttl(f"{prefix}k") <= 60_000


async def test_redis_down_fails_open_by_default_and_closed_on_request(dead_redis: Redis) -> None:
    open_limiter, closed_limiter = RateLimiter(dead_redis), RateLimiter(dead_redis, fail_open=False)

    allowed = await open_limiter.hit("k", limit=10, window_s=3600)
    refused = await closed_limiter.hit("k", limit=10, window_s=3600)
    await open_limiter.refund("k")  # no exception

    assert allowed.allowed and allowed.degraded and allowed.remaining == 9
    assert not refused.allowed and refused.degraded and refused.retry_after_s == 5


async def test_concurrency_leases_are_capped_and_released(redis: Redis, prefix: str) -> None:
    limiter = ConcurrencyLimiter(redis, prefix=prefix)

    tokens = await asyncio.gather(*(limiter.acquire("user:1", limit=3, lease_s=30) for _ in range(20)))
    held = [t for t in tokens if t is not None]
    assert len(held) == 3
    await limiter.release("user:1", held[0])
    await limiter.release("user:1", held[0])  # idempotent

    assert await limiter.acquire("user:1", limit=3, lease_s=30) is not None
    assert await limiter.acquire("user:1", limit=3, lease_s=30) is None


async def test_a_crashed_holders_lease_expires(redis: Redis, prefix: str) -> None:
    limiter = ConcurrencyLimiter(redis, prefix=prefix)
    assert await limiter.acquire("user:1", limit=1, lease_s=0.3) is not None  # never released
    assert await limiter.acquire("user:1", limit=1, lease_s=0.3) is None

    await asyncio.sleep(0.35)

    assert await limiter.acquire("user:1", limit=1, lease_s=0.3) is not None


async def test_renewal_keeps_a_lease_alive(redis: Redis, prefix: str) -> None:
    limiter = ConcurrencyLimiter(redis, prefix=prefix)
    token = await limiter.acquire("user:1", limit=1, lease_s=0.3)
    assert token is not None

    for _ in range(3):
        await asyncio.sleep(0.2)
        assert await limiter.renew("user:1", token, lease_s=0.3)

    assert await limiter.acquire("user:1", limit=1, lease_s=0.3) is None
    await limiter.release("user:1", token)
    assert not await limiter.renew("user:1", token, lease_s=0.3)


async def test_redis_down_counts_leases_in_this_process(dead_redis: Redis) -> None:
    limiter = ConcurrencyLimiter(dead_redis)

    first = await limiter.acquire("user:1", limit=2, lease_s=30)
    second = await limiter.acquire("user:1", limit=2, lease_s=30)
    third = await limiter.acquire("user:1", limit=2, lease_s=30)
    assert first and second and first.startswith("local:") and third is None

    await limiter.release("user:1", first)

    assert await limiter.acquire("user:1", limit=2, lease_s=30) is not None
