"""Per-user limits in Redis: a request-rate limiter (`gw:rl:`) and a concurrency limiter (`gw:cc:`).

Algorithm (perf notes B9): a **sliding-window log** — a sorted set of one member per admitted
unit, scored by Redis's clock, trimmed, counted and extended in one Lua script. Chosen over GCRA
and the sliding-window counter because the tiers are promises of the form "N identifications per
hour": the log admits exactly `limit` in *any* window of `window_s` (GCRA with burst N lets up to
about 2N through in an hour: a burst, then the steady rate; the window counter is an
approximation), and it makes the answers for `RateLimit-*` and `Retry-After` exact (when the
oldest counted request leaves the window) and `refund` trivial. The cost — one member per unit —
is small at these limits (hundreds per user per hour). All timing uses Redis's `TIME`, so
gateway hosts' clocks do not matter, and the script is atomic, so concurrent hits never
over-admit.
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client import Counter
from redis.asyncio import Redis

from identify_gateway.resilience._support import REDIS_ERRORS, QuietLog

RATE_DECISIONS = Counter(
    "gateway_rate_limit_decisions_total",
    "Rate-limit decisions: allowed, denied, or error (Redis down: decided by the fail-open setting).",
    ["outcome"],
)
CONCURRENCY_DECISIONS = Counter(
    "gateway_concurrency_limit_decisions_total",
    "Concurrency-limit acquisitions: acquired, refused, or local (Redis down: this process's own count).",
    ["outcome"],
)

# KEYS[1] the log. ARGV: limit, window_ms, cost, a unique id for this hit's members.
# Returns {allowed, remaining, reset_ms, retry_after_ms}.
HIT_LUA = """
local key = KEYS[1]
local limit, window, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local used = redis.call('ZCARD', key)
local allowed = 0
if cost <= limit and used + cost <= limit then
  for i = 1, cost do redis.call('ZADD', key, now, ARGV[4] .. ':' .. i) end
  redis.call('PEXPIRE', key, window)
  used = used + cost
  allowed = 1
end
local reset = 0
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
if oldest[2] then reset = tonumber(oldest[2]) + window - now end
local retry = 0
if allowed == 0 then
  if cost > limit then
    retry = window
  else
    local need = used + cost - limit
    local entry = redis.call('ZRANGE', key, need - 1, need - 1, 'WITHSCORES')
    retry = tonumber(entry[2]) + window - now
  end
end
local remaining = limit - used
if remaining < 0 then remaining = 0 end
return {allowed, remaining, reset, retry}
"""

# KEYS[1] the lease set. ARGV: limit, lease_ms, token. Returns 1 if the token got a lease.
ACQUIRE_LUA = """
local key = KEYS[1]
local limit, lease = tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
if redis.call('ZCARD', key) >= limit then return 0 end
redis.call('ZADD', key, now + lease, ARGV[3])
if redis.call('PTTL', key) < lease then redis.call('PEXPIRE', key, lease) end
return 1
"""
RENEW_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[1])
local score = redis.call('ZSCORE', KEYS[1], ARGV[2])
if not score or tonumber(score) <= now then return 0 end
redis.call('ZADD', KEYS[1], now + lease, ARGV[2])
if redis.call('PTTL', KEYS[1]) < lease then redis.call('PEXPIRE', KEYS[1], lease) end
return 1
"""

LOCAL_TOKEN_PREFIX = "local:"
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RateDecision:
    """One rate-limit answer, with what the `RateLimit-*` and `Retry-After` headers need.

    Attributes:
        allowed: the hit was admitted (and counted).
        limit: the limit applied.
        remaining: units left in the current window after this hit.
        reset_s: seconds until the oldest counted unit leaves the window (0: nothing counted).
        retry_after_s: when denied, seconds until this hit would be admitted (at least 1); 0 when allowed.
        degraded: Redis could not be asked; the decision comes from the fail-open setting.
    """

    allowed: bool
    limit: int
    remaining: int
    reset_s: int
    retry_after_s: int
    degraded: bool = False

    def headers(self) -> dict[str, str]:
        """`RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`, plus `Retry-After` when denied."""
        headers = {"RateLimit-Limit": str(self.limit), "RateLimit-Remaining": str(self.remaining), "RateLimit-Reset": str(self.reset_s)}
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after_s)
        return headers


class RateLimiter:
    """At most `limit` units per `window_s` per key (a sliding-window log; see the module docstring).

    Redis down: **fail open** by default (Stripe's choice): the hit is allowed with
    `degraded=True`, logged (at most every 10 s) and counted as `error`. A Redis outage must not
    take identification down; the edge's per-IP limit and the engine breakers, quotas and
    concurrency caps still bound the spend. Pass `fail_open=False` for a limit that must hold
    (the hit is then denied, `retry_after_s=retry_after_when_down_s`).

    Args:
        redis: the process's shared async client.
        prefix: key prefix of this concern.
        fail_open: what a Redis error decides.
        retry_after_when_down_s: `Retry-After` of a hit denied because Redis is down (fail closed).
    """

    def __init__(self, redis: Redis, *, prefix: str = "gw:rl:", fail_open: bool = True, retry_after_when_down_s: int = 5) -> None:
        self._redis = redis
        self.prefix = prefix
        self.fail_open = fail_open
        self.retry_after_when_down_s = retry_after_when_down_s
        self._hit = redis.register_script(HIT_LUA)
        self._quiet = QuietLog(logger)

    async def hit(self, key: str, *, limit: int, window_s: int, cost: int = 1, member: str | None = None) -> RateDecision:
        """Count `cost` units against `key` if they fit in the window, atomically.

        Args:
            key: whose limit (e.g. `user:<uuid>`, `ip:<address>`), under `prefix`.
            limit: units per window.
            window_s: the window.
            cost: units this hit takes (images in one request, for instance). A denied hit takes none.
            member: names the units (`<member>:1` … `<member>:<cost>`), so that exactly these can be
                refunded later (`refund(..., member=...)`); default a random name.
        """
        if limit < 0 or window_s <= 0 or cost < 1:
            raise ValueError("limit must be >= 0, window_s > 0 and cost >= 1")
        try:
            allowed, remaining, reset_ms, retry_ms = await self._hit(
                keys=[self.prefix + key], args=[limit, window_s * 1000, cost, member or secrets.token_hex(8)]
            )
        except REDIS_ERRORS as exc:
            RATE_DECISIONS.labels("error").inc()
            verdict = "allowing" if self.fail_open else "refusing"
            self._quiet.warning("hit", "rate limiter unavailable, %s the request (fail %s): %r", verdict, "open" if self.fail_open else "closed", exc)
            if self.fail_open:
                return RateDecision(True, limit, max(0, limit - cost), 0, 0, degraded=True)
            return RateDecision(False, limit, 0, self.retry_after_when_down_s, self.retry_after_when_down_s, degraded=True)
        RATE_DECISIONS.labels("allowed" if allowed else "denied").inc()
        return RateDecision(
            allowed=bool(allowed),
            limit=limit,
            remaining=int(remaining),
            reset_s=math.ceil(int(reset_ms) / 1000),
            retry_after_s=0 if allowed else max(1, math.ceil(int(retry_ms) / 1000)),
        )

    async def refund(self, key: str, cost: int = 1, *, member: str | None = None, units: Iterable[int] | None = None) -> None:
        """Give back `cost` units, e.g. when a charged request failed.

        Without `member`: the most recently counted ones. With `member` (as given to `hit`): exactly
        those units (`units`, numbered from 1, default 1..cost), which makes the refund idempotent:
        a unit already given back, or already out of the window, is not taken from anyone else.

        Redis errors are logged and ignored: nothing was counted that can be given back reliably.
        """
        if cost < 1:
            return
        try:
            if member is not None:
                numbers = list(units) if units is not None else list(range(1, cost + 1))
                if numbers:
                    await self._redis.zrem(self.prefix + key, *(f"{member}:{n}" for n in numbers))
                return
            await self._redis.zpopmax(self.prefix + key, cost)
        except REDIS_ERRORS as exc:
            self._quiet.warning("refund", "rate limiter unavailable, refund of %s dropped: %r", key, exc)


class ConcurrencyLimiter:
    """At most `limit` leases at a time per key: a sorted set of tokens scored by lease expiry.

    A holder that crashes never releases, so every lease expires after `lease_s`; long work
    renews it (`renew`). Expired leases are dropped by the next `acquire`.

    Redis down: **fail open to this process's own count** — acquisition is decided by a
    process-local table with the same limit and leases (tokens start with `local:`). A user can
    then have `limit` requests in flight per gateway process instead of per cluster, which keeps
    identification up while still bounding a single client's fan-out.

    Args:
        redis: the process's shared async client.
        prefix: key prefix of this concern.
    """

    def __init__(self, redis: Redis, *, prefix: str = "gw:cc:") -> None:
        self._redis = redis
        self.prefix = prefix
        self._acquire = redis.register_script(ACQUIRE_LUA)
        self._renew = redis.register_script(RENEW_LUA)
        self._local: dict[str, dict[str, float]] = {}  # key -> token -> expiry (monotonic)
        self._quiet = QuietLog(logger)

    async def acquire(self, key: str, *, limit: int, lease_s: float) -> str | None:
        """A lease token, or None when `limit` leases are already held for `key`."""
        if limit < 1 or lease_s <= 0:
            raise ValueError("limit must be >= 1 and lease_s > 0")
        token = secrets.token_hex(12)
        try:
            got = await self._acquire(keys=[self.prefix + key], args=[limit, max(1, int(lease_s * 1000)), token])
        except REDIS_ERRORS as exc:
            self._quiet.warning("acquire", "concurrency limiter unavailable, counting in this process only: %r", exc)
            return self._acquire_local(key, limit, lease_s)
        CONCURRENCY_DECISIONS.labels("acquired" if got else "refused").inc()
        return token if got else None

    async def release(self, key: str, token: str) -> None:
        """Give the lease back (idempotent; errors are logged, the lease then expires by itself)."""
        if token.startswith(LOCAL_TOKEN_PREFIX):
            leases = self._local.get(key, {})
            leases.pop(token, None)
            if not leases:
                self._local.pop(key, None)
            return
        try:
            await self._redis.zrem(self.prefix + key, token)
        except REDIS_ERRORS as exc:
            self._quiet.warning("release", "concurrency limiter unavailable, lease of %s left to expire: %r", key, exc)

    async def renew(self, key: str, token: str, *, lease_s: float) -> bool:
        """Extend a held lease to `lease_s` from now; False if it had already expired or been released."""
        if token.startswith(LOCAL_TOKEN_PREFIX):
            leases = self._local.get(key, {})
            if token not in leases or leases[token] <= time.monotonic():
                return False
            leases[token] = time.monotonic() + lease_s
            return True
        try:
            return bool(await self._renew(keys=[self.prefix + key], args=[max(1, int(lease_s * 1000)), token]))
        except REDIS_ERRORS as exc:
            self._quiet.warning("renew", "concurrency limiter unavailable, lease of %s not renewed: %r", key, exc)
            return True  # cannot tell; the holder keeps working

    def _acquire_local(self, key: str, limit: int, lease_s: float) -> str | None:
        now = time.monotonic()
        leases = {t: expiry for t, expiry in self._local.get(key, {}).items() if expiry > now}
        self._local[key] = leases
        if len(leases) >= limit:
            CONCURRENCY_DECISIONS.labels("refused").inc()
            return None
        token = LOCAL_TOKEN_PREFIX + secrets.token_hex(12)
        leases[token] = now + lease_s
        CONCURRENCY_DECISIONS.labels("local").inc()
        return token
