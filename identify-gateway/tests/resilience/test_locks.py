"""SingleFlight against the real Redis: in-process joining, cross-process locking, cancellation, leases, timeouts."""

from __future__ import annotations

import asyncio
import collections
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from identify_gateway.resilience.locks import SingleFlight

PEER = Path(__file__).with_name("singleflight_peer.py")


class Work:
    """A computation that stores its result in Redis (as the pipeline stores it in the cache) and counts its runs."""

    def __init__(self, redis: Redis, prefix: str, key: str, *, seconds: float = 0.2, value: str = "answer") -> None:
        self.redis, self.cache_key, self.seconds, self.value = redis, f"{prefix}cache:{key}", seconds, value
        self.calls = 0
        self.started_at: float | None = None
        self.ended_at: float | None = None

    async def compute(self) -> str:
        self.calls += 1
        self.started_at = time.perf_counter()
        await asyncio.sleep(self.seconds)
        self.ended_at = time.perf_counter()
        await self.redis.set(self.cache_key, self.value)
        return self.value

    async def recheck(self) -> str | None:
        raw = await self.redis.get(self.cache_key)
        return raw.decode() if raw else None


def flight(redis: Redis, prefix: str, **options: float) -> SingleFlight:
    return SingleFlight(redis, prefix=f"{prefix}lock:", **options)  # type: ignore[arg-type]


async def test_a_hundred_identical_calls_compute_once(redis: Redis, prefix: str) -> None:
    sf, work = flight(redis, prefix), Work(redis, prefix, "img")

    results = await asyncio.gather(*(sf.run("img", work.compute, recheck=work.recheck) for _ in range(100)))

    assert work.calls == 1
    assert collections.Counter(how for _, how in results) == {"computed": 1, "joined": 99}
    assert {value for value, _ in results} == {"answer"}
    assert await redis.exists(f"{prefix}lock:img") == 0  # released
    assert not sf.in_flight("img")


async def test_two_processes_compute_once_between_them(redis: Redis, prefix: str) -> None:
    start_at = time.time() + 1.0
    peer = subprocess.Popen(
        [sys.executable, str(PEER), os.environ["GATEWAY_REDIS_URL"], prefix, "shared", str(start_at + 0.5), "50"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert peer.stdout is not None
        assert peer.stdout.readline().strip() == "ready", peer.stderr.read() if peer.stderr else ""
        sf = flight(redis, prefix, poll_interval_s=0.02)

        async def compute() -> str:
            count = await redis.incr(f"{prefix}computes")
            await asyncio.sleep(0.5)
            await redis.set(f"{prefix}cache:shared", f"result-{count}")
            return f"result-{count}"

        async def recheck() -> str | None:
            raw = await redis.get(f"{prefix}cache:shared")
            return raw.decode() if raw else None

        await asyncio.sleep(max(0.0, start_at + 0.5 - time.time()))
        ours = await asyncio.gather(*(sf.run("shared", compute, recheck=recheck) for _ in range(50)))
        out, err = await asyncio.to_thread(peer.communicate, timeout=30)
    finally:
        if peer.poll() is None:
            peer.kill()
    theirs = json.loads(out.strip().splitlines()[-1])

    assert int(await redis.get(f"{prefix}computes")) == 1, err
    assert {value for value, _ in ours} == set(theirs["values"]) == {"result-1"}
    hows = collections.Counter(how for _, how in ours) + collections.Counter(theirs["how"])
    assert hows["computed"] == 1 and hows["joined"] == 98 and hows["waited"] == 1


async def test_distinct_keys_never_wait_for_each_other(redis: Redis, prefix: str) -> None:
    sf = flight(redis, prefix)
    works = [Work(redis, prefix, f"img{n}", seconds=0.3) for n in range(50)]

    results = await asyncio.gather(*(sf.run(f"img{n}", w.compute, recheck=w.recheck) for n, w in enumerate(works)))

    assert all(how == "computed" for _, how in results)
    assert sum(w.calls for w in works) == 50
    # All fifty ran at once: every computation started before the first one finished (no timing budget).
    assert max(w.started_at for w in works) < min(w.ended_at for w in works)


async def test_the_lock_is_released_when_the_holder_is_cancelled(redis: Redis, prefix: str) -> None:
    sf, work = flight(redis, prefix), Work(redis, prefix, "img", seconds=5)
    holder = asyncio.create_task(sf.run("img", work.compute, recheck=work.recheck))
    await asyncio.sleep(0.1)
    assert await redis.exists(f"{prefix}lock:img") == 1

    holder.cancel()
    with pytest.raises(asyncio.CancelledError):
        await holder

    assert await redis.exists(f"{prefix}lock:img") == 0
    assert not sf.in_flight("img")
    quick = Work(redis, prefix, "img", seconds=0.01, value="second")
    assert await sf.run("img", quick.compute, recheck=quick.recheck) == ("second", "computed")


async def test_joined_callers_retry_when_the_computing_caller_is_cancelled(redis: Redis, prefix: str) -> None:
    sf = flight(redis, prefix)
    slow = Work(redis, prefix, "img", seconds=5)
    fast = Work(redis, prefix, "img", seconds=0.05, value="by-a-joiner")
    leader = asyncio.create_task(sf.run("img", slow.compute, recheck=slow.recheck))
    await asyncio.sleep(0.05)
    joiners = [asyncio.create_task(sf.run("img", fast.compute, recheck=fast.recheck)) for _ in range(5)]
    await asyncio.sleep(0.05)

    leader.cancel()
    results = await asyncio.wait_for(asyncio.gather(*joiners), timeout=5)

    assert collections.Counter(how for _, how in results) == {"computed": 1, "joined": 4}
    assert {value for value, _ in results} == {"by-a-joiner"} and fast.calls == 1


async def test_an_error_reaches_every_joined_caller_and_does_not_stick(redis: Redis, prefix: str) -> None:
    sf = flight(redis, prefix)
    calls = 0

    async def failing() -> str:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        raise RuntimeError("engine exploded")

    async def nothing() -> None:
        return None

    results = await asyncio.gather(*(sf.run("img", failing, recheck=nothing) for _ in range(10)), return_exceptions=True)

    assert calls == 1 and all(isinstance(r, RuntimeError) for r in results)
    assert await redis.exists(f"{prefix}lock:img") == 0
    work = Work(redis, prefix, "img", seconds=0.01)
    assert await sf.run("img", work.compute, recheck=work.recheck) == ("answer", "computed")


async def test_the_lease_is_renewed_while_a_long_computation_runs(redis: Redis, prefix: str) -> None:
    holder_side = flight(redis, prefix, lease_ms=300)
    other_process = flight(redis, prefix, lease_ms=300, poll_interval_s=0.02)  # a second instance: another process
    long_work = Work(redis, prefix, "img", seconds=1.2)
    other_work = Work(redis, prefix, "img", seconds=0.01, value="duplicate")

    holder = asyncio.create_task(holder_side.run("img", long_work.compute, recheck=long_work.recheck))
    await asyncio.sleep(0.05)
    waiter = asyncio.create_task(other_process.run("img", other_work.compute, recheck=other_work.recheck))
    ttls = []
    for _ in range(4):
        await asyncio.sleep(0.25)
        ttls.append(await redis.pttl(f"{prefix}lock:img"))

    assert await holder == ("answer", "computed")
    assert await waiter == ("answer", "waited")
    assert all(0 < ttl <= 300 for ttl in ttls)  # still held a second after a 300 ms lease would have expired
    assert other_work.calls == 0


async def test_a_stuck_holder_makes_waiters_fall_back_after_the_timeout(redis: Redis, prefix: str) -> None:
    await redis.set(f"{prefix}lock:img", "someone-else", px=10_000)  # held by a process that never finishes
    sf = flight(redis, prefix, wait_timeout_s=0.3)
    work = Work(redis, prefix, "img", seconds=0.01, value="fallback-result")

    started = time.perf_counter()
    result = await sf.run("img", work.compute, recheck=work.recheck)

    assert result == ("fallback-result", "fallback")
    assert 0.3 <= time.perf_counter() - started < 1.0
    assert await redis.get(f"{prefix}lock:img") == b"someone-else"  # never released by a non-holder


async def test_a_holder_that_stores_nothing_lets_the_next_waiter_compute(redis: Redis, prefix: str) -> None:
    await redis.set(f"{prefix}lock:img", "someone-else", px=200)  # a holder that dies: its lease expires
    sf = flight(redis, prefix, poll_interval_s=0.02)
    work = Work(redis, prefix, "img", seconds=0.01)

    assert await sf.run("img", work.compute, recheck=work.recheck) == ("answer", "computed")


async def test_the_double_check_after_acquiring_skips_the_computation(redis: Redis, prefix: str) -> None:
    sf, work = flight(redis, prefix), Work(redis, prefix, "img")
    await redis.set(f"{prefix}cache:img", "already there")

    assert await sf.run("img", work.compute, recheck=work.recheck) == ("already there", "waited")
    assert work.calls == 0


async def test_redis_down_computes_without_the_lock_but_still_once_per_process(dead_redis: Redis) -> None:
    sf = SingleFlight(dead_redis)
    calls = 0

    async def compute() -> str:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.1)
        return "still answering"

    async def recheck() -> None:
        return None

    results = await asyncio.gather(*(sf.run("img", compute, recheck=recheck) for _ in range(20)))

    assert calls == 1
    assert collections.Counter(how for _, how in results) == {"no_lock": 1, "joined": 19}


async def test_a_release_lost_in_a_redis_blip_is_retried_so_waiters_need_not_wait_out_the_lease(
    redis: Redis, prefix: str, redis_proxy: Any, make_redis: Any, until: Any
) -> None:
    holder_side = flight(make_redis(redis_proxy.url), prefix, lease_ms=60_000)  # this process's path to Redis will blip
    other_process = flight(redis, prefix, lease_ms=60_000, wait_timeout_s=5, poll_interval_s=0.02)
    finish = asyncio.Event()

    async def compute_then_lose_redis() -> str:
        await finish.wait()
        await redis_proxy.cut()  # the blip starts as the answer is ready: the release cannot reach Redis
        return "not cacheable"  # stores nothing, so the waiter can only go on once the lock is gone

    async def uncached() -> None:
        return None

    async def compute_again() -> str:
        return "computed by the other process"

    holder = asyncio.create_task(holder_side.run("img", compute_then_lose_redis, recheck=uncached))
    assert await until(lambda: redis.exists(f"{prefix}lock:img"))
    waiter = asyncio.create_task(other_process.run("img", compute_again, recheck=uncached))
    finish.set()
    assert await holder == ("not cacheable", "computed")  # answered without waiting for the retries
    assert await redis.exists(f"{prefix}lock:img") == 1  # the first release attempt was lost
    await redis_proxy.restore()

    # A retry releases the lock: the waiter takes it and computes, instead of waiting out the
    # 60 s lease and falling back after its own 5 s bound.
    assert await waiter == ("computed by the other process", "computed")


async def test_a_release_that_never_gets_through_stops_retrying_and_the_lease_expires(
    redis: Redis, prefix: str, redis_proxy: Any, make_redis: Any, until: Any
) -> None:
    holder_side = flight(make_redis(redis_proxy.url), prefix, lease_ms=2_000)
    other_process = flight(redis, prefix, wait_timeout_s=10, poll_interval_s=0.02)

    async def compute_then_lose_redis() -> str:
        await redis_proxy.cut()  # for good
        return "not cacheable"

    async def uncached() -> None:
        return None

    async def compute_again() -> str:
        return "computed after the lease"

    assert await holder_side.run("img", compute_then_lose_redis, recheck=uncached) == ("not cacheable", "computed")
    waited = await other_process.run("img", compute_again, recheck=uncached)

    assert waited == ("computed after the lease", "computed")  # bounded by the lease, not the wait timeout
    assert await until(lambda: not holder_side._background)  # noqa: SLF001 - the retries end by themselves
