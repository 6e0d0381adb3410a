"""Brute-force protection for password checks: failures counted per account and per client IP.

Each failure goes into a sorted set (score = time) per account and per IP; the count over the
sliding window (`AUTH_LOGIN_WINDOW_SECONDS`) decides. Past `AUTH_LOGIN_SLOWDOWN_AFTER` failures
answers are delayed a little more each time; at the lock threshold a lock key with a TTL makes
every attempt (right password or not) answer 429 with `Retry-After` until it expires.

Accounts are keyed by a hash of the normalised email, whether the account exists or not, so a
lock reveals nothing about existence. Redis down: calls raise `RedisError`, answered 503 (fails
closed: no password check without brute-force protection).
"""

from __future__ import annotations

import hashlib
import time
import uuid

from plant_shared.errors import ApiError
from redis.asyncio import Redis

from auth_service.config import Settings

PREFIX = "auth:login:"


def throttled(retry_after: int) -> ApiError:
    seconds = max(1, retry_after)
    return ApiError(
        429, f"Request was throttled. Expected available in {seconds} seconds.", "throttled", headers={"Retry-After": str(seconds)}
    )


def account_key(email: str) -> str:
    return hashlib.sha256(email.encode()).hexdigest()[:32]


class LoginThrottle:
    """Args:
    redis: the service's Redis (database 0).
    settings: the `AUTH_LOGIN_*` numbers.
    """

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self._redis = redis
        self._window = settings.login_window_seconds
        self._slow_after = settings.login_slowdown_after
        # The IP's threshold scales with its lock threshold: one address may be many users (NAT).
        self._ip_slow_after = max(1, settings.login_slowdown_after * settings.login_lock_after_ip // settings.login_lock_after_account)
        self._step = settings.login_slowdown_step_seconds
        self._max_delay = settings.login_slowdown_max_seconds
        self._lock_account = settings.login_lock_after_account
        self._lock_ip = settings.login_lock_after_ip
        self._lock_seconds = settings.login_lock_seconds

    @staticmethod
    def _keys(account: str, ip: str) -> tuple[str, str, str, str]:
        return (f"{PREFIX}fail:acct:{account}", f"{PREFIX}fail:ip:{ip}", f"{PREFIX}lock:acct:{account}", f"{PREFIX}lock:ip:{ip}")

    async def before_attempt(self, account: str, ip: str) -> float:
        """Check the locks, then return how long to delay this attempt (seconds).

        Raises:
            ApiError: 429 `throttled` with `Retry-After` while the account or the IP is locked.
        """
        fail_acct, fail_ip, lock_acct, lock_ip = self._keys(account, ip)
        since = time.time() - self._window
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.ttl(lock_acct)
            pipe.ttl(lock_ip)
            pipe.zcount(fail_acct, since, "+inf")
            pipe.zcount(fail_ip, since, "+inf")
            ttl_acct, ttl_ip, count_acct, count_ip = await pipe.execute()
        locked_for = max(ttl_acct, ttl_ip)
        if locked_for > 0:
            raise throttled(locked_for)
        excess = max(count_acct - self._slow_after, count_ip - self._ip_slow_after)
        return 0.0 if excess < 0 else min(self._max_delay, (excess + 1) * self._step)

    async def record_failure(self, account: str, ip: str) -> None:
        """Count a failure; lock the account or IP when it reaches its threshold.

        Raises:
            ApiError: 429 when this very failure set a lock.
        """
        fail_acct, fail_ip, lock_acct, lock_ip = self._keys(account, ip)
        now = time.time()
        member = f"{now}:{uuid.uuid4().hex[:8]}"
        async with self._redis.pipeline(transaction=True) as pipe:
            for key in (fail_acct, fail_ip):
                pipe.zadd(key, {member: now})
                pipe.zremrangebyscore(key, "-inf", now - self._window)
                pipe.zcard(key)
                pipe.expire(key, self._window)
            results = await pipe.execute()
        count_acct, count_ip = results[2], results[6]
        locked = False
        for count, limit, key in ((count_acct, self._lock_account, lock_acct), (count_ip, self._lock_ip, lock_ip)):
            if count >= limit:
                await self._redis.set(key, "1", ex=self._lock_seconds)
                locked = True
        if locked:
            raise throttled(self._lock_seconds)

    async def record_success(self, account: str) -> None:
        """Forget the account's failures (the IP's stay: it may be trying many accounts)."""
        fail_acct, _, _, _ = self._keys(account, "")
        await self._redis.delete(fail_acct)
