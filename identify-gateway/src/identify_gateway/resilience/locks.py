"""Single-flight: one computation per key, in this process and across processes (`gw:lock:`).

Three layers (perf notes B7):

1. In-process: a dict of asyncio futures per key. Concurrent callers of `run` with the same key in
   one process share one computation ("joined").
2. Cross-process: an *efficiency* lock, `SET key token NX PX lease_ms` on the single Redis (not
   Redlock: a rare double engine call costs money, not correctness). While the holder computes, a
   renewal task extends the lease every lease/3 with a compare-and-pexpire script; the lock is
   released with a compare-and-delete script in `finally`, also when the caller is cancelled, and
   it expires by itself if the process dies. A release that fails (a Redis blip) is retried a few
   times with a short backoff, in the background: a lost release would otherwise keep waiters in
   other processes polling for up to the whole lease. Other processes poll `recheck` (the cache)
   until the result appears ("waited") or the lock is gone (then one of them takes it).
3. A bounded fallback: after `wait_timeout_s` a waiter rechecks once more and computes anyway
   ("fallback"), like nginx's `proxy_cache_lock_timeout`. Nobody waits without bound.

Redis down: **fail open**. Without Redis there is no cross-process lock: the leader computes
without it ("no_lock"); in-process de-duplication still applies. Identification must not stop
because the lock store is gone; the worst case is one engine call per process instead of one per
cluster.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

from prometheus_client import Counter, Histogram
from redis.asyncio import Redis

from identify_gateway.resilience._support import REDIS_ERRORS, QuietLog

T = TypeVar("T")
How = Literal["computed", "joined", "waited", "fallback", "no_lock"]

LOCK_EVENTS = Counter(
    "gateway_lock_events_total",
    "Single-flight events: acquired (took the Redis lock), joined (shared an in-process computation), waited "
    "(another process held the lock), timeout (gave up waiting), no_lock (Redis down), lease_lost, released, "
    "release_failed (not released after its retries: the lease expires by itself).",
    ["event"],
)
LOCK_WAIT = Histogram(
    "gateway_lock_wait_seconds",
    "Time spent waiting for another process's lock holder.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30),
)

# Compare-and-pexpire / compare-and-delete: only the holder's token may extend or release the lock.
RENEW_LUA = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
RELEASE_LUA = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""

# Pauses before the release's retries: ~1.5 s in all, a blip's length, far below the lease. Bounded,
# so a Redis that stays away costs a few failed commands and the lease expires by itself.
RELEASE_RETRY_DELAYS_S = (0.05, 0.1, 0.2, 0.4, 0.8)

logger = logging.getLogger(__name__)


class _LeaderCancelled(Exception):
    """Given to joined callers when the caller that was computing for them was cancelled: they retry."""


class SingleFlight:
    """De-duplicate concurrent computations of the same key, in-process and across processes.

    Redis down: fail open (see the module docstring) — compute without the distributed lock.

    Args:
        redis: the process's shared async client.
        prefix: key prefix of this concern (`gw:lock:` + key).
        lease_ms: lock lease; renewed every lease/3 while the computation runs, so it only needs to
            outlive a stuck process, not the slowest engine call.
        wait_timeout_s: how long a caller waits for another process's holder before the fallback.
        poll_interval_s: mean interval between two rechecks while waiting (±50 % jitter).
    """

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = "gw:lock:",
        lease_ms: int = 30_000,
        wait_timeout_s: float = 15.0,
        poll_interval_s: float = 0.05,
    ) -> None:
        if lease_ms < 30:
            raise ValueError("lease_ms must be at least 30 ms")
        self._redis = redis
        self.prefix = prefix
        self.lease_ms = lease_ms
        self.wait_timeout_s = wait_timeout_s
        self.poll_interval_s = poll_interval_s
        self._renew = redis.register_script(RENEW_LUA)
        self._release = redis.register_script(RELEASE_LUA)
        self._flights: dict[str, asyncio.Future[Any]] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._quiet = QuietLog(logger)

    def in_flight(self, key: str) -> bool:
        """Whether this process is computing `key` right now."""
        return key in self._flights

    async def run(
        self,
        key: str,
        compute: Callable[[], Awaitable[T]],
        *,
        recheck: Callable[[], Awaitable[T | None]],
    ) -> tuple[T, How]:
        """The result for `key`, computed at most once at a time, and how it was obtained.

        `compute` must store its result where `recheck` finds it (the result cache) *before it
        returns*: waiters in other processes see the result only through `recheck`. If it stores
        nothing (an uncacheable answer), each waiting process computes in turn.

        Args:
            key: what identifies the computation (the cache key); distinct keys never wait for each other.
            compute: the expensive call (engines); runs in the caller's task, so cancelling the
                caller cancels it.
            recheck: a cheap lookup (the cache) returning the result or None.

        Returns:
            (result, how): how is "computed", "joined" (shared this process's in-flight
            computation), "waited" (another process's result, found by `recheck`), "fallback"
            (waiting timed out, then computed) or "no_lock" (Redis down, computed without the lock).

        Raises:
            Whatever `compute` raises; joined callers receive the same exception. If the computing
            caller is cancelled, joined callers are not: they start over (one of them computes).
        """
        while (flight := self._flights.get(key)) is not None:
            try:
                value = await asyncio.shield(flight)  # our own cancellation must not cancel the shared flight
            except _LeaderCancelled:
                continue
            LOCK_EVENTS.labels("joined").inc()
            return value, "joined"

        flight = asyncio.get_running_loop().create_future()
        flight.add_done_callback(_mark_retrieved)
        self._flights[key] = flight
        try:
            value, how = await self._lead(key, compute, recheck)
        except asyncio.CancelledError:
            flight.set_exception(_LeaderCancelled())
            raise
        except BaseException as exc:
            flight.set_exception(exc)
            raise
        else:
            flight.set_result(value)
            return value, how
        finally:
            if self._flights.get(key) is flight:
                del self._flights[key]

    async def _lead(self, key: str, compute: Callable[[], Awaitable[T]], recheck: Callable[[], Awaitable[T | None]]) -> tuple[T, How]:
        name = self.prefix + key
        token = secrets.token_hex(16)
        try:
            if await self._try_acquire(name, token):
                return await self._hold(name, token, compute, recheck)
        except REDIS_ERRORS as exc:
            return await self._without_lock(compute, exc)

        LOCK_EVENTS.labels("waited").inc()
        started = time.monotonic()
        deadline = started + self.wait_timeout_s
        try:
            while (left := deadline - time.monotonic()) > 0:
                await asyncio.sleep(min(left, self.poll_interval_s * random.uniform(0.5, 1.5)))
                found = await recheck()
                if found is not None:
                    LOCK_WAIT.observe(time.monotonic() - started)
                    return found, "waited"
                if await self._try_acquire(name, token):  # the holder finished (or died) without a result for us
                    LOCK_WAIT.observe(time.monotonic() - started)
                    return await self._hold(name, token, compute, recheck)
        except REDIS_ERRORS as exc:
            LOCK_WAIT.observe(time.monotonic() - started)
            return await self._without_lock(compute, exc)

        LOCK_WAIT.observe(time.monotonic() - started)
        LOCK_EVENTS.labels("timeout").inc()
        logger.warning("single-flight wait for %s timed out after %.1f s; computing without the lock", key, self.wait_timeout_s)
        found = await recheck()
        if found is not None:
            return found, "waited"
        return await compute(), "fallback"

    async def _try_acquire(self, name: str, token: str) -> bool:
        return bool(await self._redis.set(name, token, nx=True, px=self.lease_ms))

    async def _without_lock(self, compute: Callable[[], Awaitable[T]], exc: BaseException) -> tuple[T, How]:
        LOCK_EVENTS.labels("no_lock").inc()
        self._quiet.warning("no_lock", "single-flight lock unavailable, computing without it (fail open): %r", exc)
        return await compute(), "no_lock"

    async def _hold(self, name: str, token: str, compute: Callable[[], Awaitable[T]], recheck: Callable[[], Awaitable[T | None]]) -> tuple[T, How]:
        LOCK_EVENTS.labels("acquired").inc()
        done = asyncio.Event()
        renewal = asyncio.create_task(self._keep_alive(name, token, done), name=f"lock-renewal:{name}")
        self._background.add(renewal)
        renewal.add_done_callback(self._background.discard)
        try:
            found = await recheck()  # double check: the previous holder may have just stored it
            if found is not None:
                return found, "waited"
            return await compute(), "computed"
        finally:
            done.set()  # the renewal stops at its next wake-up; never cancelled in the middle of a Redis command
            # Released in its own task: a second cancellation of the caller cannot abandon it
            # half-way (the lease would still expire, but later than it should). The caller waits
            # for the first attempt only; retries after a failure go on without holding the answer.
            first_attempt = asyncio.Event()
            release = asyncio.create_task(self._release_lock(name, token, first_attempt), name=f"lock-release:{name}")
            self._background.add(release)
            release.add_done_callback(self._background.discard)
            await asyncio.shield(first_attempt.wait())

    async def _keep_alive(self, name: str, token: str, done: asyncio.Event) -> None:
        interval = self.lease_ms / 3 / 1000
        while True:
            try:
                await asyncio.wait_for(done.wait(), interval)
                return
            except TimeoutError:
                pass
            try:
                extended = await self._renew(keys=[name], args=[token, self.lease_ms])
            except REDIS_ERRORS as exc:
                self._quiet.warning("renew", "could not renew single-flight lock %s: %r", name, exc)
                continue
            if done.is_set():
                return
            if not extended:
                LOCK_EVENTS.labels("lease_lost").inc()
                logger.warning("single-flight lock %s was lost while computing (lease expired); another process may compute too", name)
                return

    async def _release_lock(self, name: str, token: str, first_attempt: asyncio.Event) -> None:
        """Compare-and-delete, retried through a short Redis outage; never past the lease (pointless then)."""
        lease_ends = time.monotonic() + self.lease_ms / 1000  # an upper bound: the last renewal was before now
        error: BaseException | None = None
        try:
            for delay in (0.0, *RELEASE_RETRY_DELAYS_S):
                if delay:
                    if time.monotonic() + delay >= lease_ends:
                        break
                    await asyncio.sleep(delay)
                try:
                    if await self._release(keys=[name], args=[token]):
                        LOCK_EVENTS.labels("released").inc()
                    return
                except REDIS_ERRORS as exc:
                    error = exc
                first_attempt.set()  # the caller goes on; the retries are this task's business
        finally:
            first_attempt.set()
        LOCK_EVENTS.labels("release_failed").inc()
        self._quiet.warning("release", "could not release single-flight lock %s (it expires by itself): %r", name, error)


def _mark_retrieved(future: asyncio.Future[Any]) -> None:
    # A flight nobody joined still ends with an exception; reading it keeps asyncio from logging
    # "exception was never retrieved" for an error its own caller already received.
    if not future.cancelled():
        future.exception()
