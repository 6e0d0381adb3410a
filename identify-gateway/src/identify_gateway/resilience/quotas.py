"""What each engine's quota has left, as the engines report it (`gw:quota:`).

- Pl@ntNet: `remainingIdentificationRequests` in every identification answer, and the draft-IETF
  `RateLimit: "dailyQuota";r=<remaining>;t=<seconds to reset>` header; the quota resets at
  00:00 UTC (external-apis.md 2.4).
- Plant.id: `GET /usage_info` (`remaining`/`credit_limits`/`used` per period, `can_use_credits`),
  and a 429 that means the account is out of credits (external-apis.md 1.6, 1.8).

One Redis hash per engine, shared by every process; when a reset time is known the hash expires
then, so "exhausted" ends by itself at the reset.

Redis down: **fail open, with this process's memory**. Reads answer what this process last
recorded or read (or None: unknown), and `exhausted` is False when nothing is known. Skipping an
engine on a guess would turn a Redis outage into an identification outage; an engine that really
is out of quota answers 429 itself, and the breaker is forced open on that.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import Gauge
from redis.asyncio import Redis

from identify_gateway.resilience._support import REDIS_ERRORS, QuietLog

QUOTA_REMAINING = Gauge("gateway_engine_quota_remaining", "Identifications (Pl@ntNet) or credits (Plant.id) left, as last reported.", ["engine"])

_RATELIMIT_FIELD = re.compile(r"\b([rt])=(\d+)")
_POLICY_QUOTA = re.compile(r"\bq=(\d+)")
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class QuotaInfo:
    """The last report of one engine's quota.

    Attributes:
        remaining: units left (None: unknown). Plant.id credits may be fractional.
        limit: the quota (None: unknown or unlimited).
        used: units used in the current period, if reported.
        reset_at: Unix time at which the quota resets (None: unknown / never).
        exhausted: the engine said so (Plant.id 429, `can_use_credits: false`), whatever `remaining` says.
        reason: the engine's words for it (logs and health only).
        updated_at: Unix time of the report.
    """

    remaining: float | None
    limit: float | None = None
    used: float | None = None
    reset_at: float | None = None
    exhausted: bool = False
    reason: str | None = None
    updated_at: float = 0.0

    def is_exhausted(self, *, cost: float = 1, now: float | None = None) -> bool:
        if self.reset_at is not None and (now or time.time()) >= self.reset_at:
            return False  # the quota has been reset since this report
        return self.exhausted or (self.remaining is not None and self.remaining < cost)


class QuotaTracker:
    """Record and read each engine's remaining quota (see the module docstring for Redis down).

    Args:
        redis: the process's shared async client.
        prefix: key prefix of this concern.
    """

    def __init__(self, redis: Redis, *, prefix: str = "gw:quota:") -> None:
        self._redis = redis
        self.prefix = prefix
        self._last: dict[str, QuotaInfo] = {}
        self._quiet = QuietLog(logger)

    # ---- recording -----------------------------------------------------------------------------

    async def record(
        self,
        engine: str,
        *,
        remaining: float | None,
        limit: float | None = None,
        used: float | None = None,
        reset_at: float | None = None,
        exhausted: bool = False,
        reason: str | None = None,
    ) -> QuotaInfo:
        """Store a report (replacing the previous one) and update the gauge."""
        info = QuotaInfo(remaining, limit, used, reset_at, exhausted or (remaining is not None and remaining <= 0), reason, time.time())
        self._remember(engine, info)
        fields = {name: value for name, value in (
            ("remaining", remaining), ("limit", limit), ("used", used), ("reset_at", reset_at), ("reason", reason),
        ) if value is not None}
        fields["exhausted"] = int(info.exhausted)
        fields["updated_at"] = info.updated_at
        key = self.prefix + engine
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(key)
                pipe.hset(key, mapping={k: str(v) for k, v in fields.items()})
                if reset_at is not None:
                    pipe.pexpireat(key, int(reset_at * 1000))
                await pipe.execute()
        except REDIS_ERRORS as exc:
            self._quiet.warning("record", "quota tracker unavailable, %s quota kept in this process only: %r", engine, exc)
        return info

    async def record_plantnet(self, body: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None, *, engine: str = "plantnet") -> QuotaInfo | None:
        """Read Pl@ntNet's `remainingIdentificationRequests` (body) and `RateLimit`/`RateLimit-Policy` (headers).

        Either may be missing (a 404 "Species not found" still carries the headers). Returns None
        when neither says anything.
        """
        remaining: float | None = None
        reset_at: float | None = None
        limit: float | None = None
        if body is not None and isinstance(body.get("remainingIdentificationRequests"), int | float):
            remaining = float(body["remainingIdentificationRequests"])
        if headers is not None:
            fields = dict(_RATELIMIT_FIELD.findall(_header(headers, "RateLimit") or ""))
            if remaining is None and "r" in fields:
                remaining = float(fields["r"])
            if "t" in fields:
                reset_at = time.time() + int(fields["t"])
            if quota := _POLICY_QUOTA.search(_header(headers, "RateLimit-Policy") or ""):
                limit = float(quota.group(1))
        if remaining is None:
            return None
        return await self.record(engine, remaining=remaining, limit=limit, reset_at=reset_at or next_utc_midnight())

    async def record_plant_id_usage(self, usage_info: Mapping[str, Any], *, engine: str = "plant_id") -> QuotaInfo:
        """Read Plant.id's `GET /usage_info`: the tightest non-null `remaining` period decides."""
        remaining_by_period = usage_info.get("remaining") or {}
        limits = usage_info.get("credit_limits") or {}
        periods = [(float(v), p) for p, v in remaining_by_period.items() if isinstance(v, int | float)]
        remaining, period = min(periods) if periods else (None, None)
        limit = limits.get(period) if period else None
        used = (usage_info.get("used") or {}).get(period or "total")
        can_use = usage_info.get("can_use_credits") or {}
        refused = can_use.get("value") is False or usage_info.get("active") is False
        reason = can_use.get("reason") if refused else None
        return await self.record(
            engine,
            remaining=remaining,
            limit=float(limit) if isinstance(limit, int | float) else None,
            used=float(used) if isinstance(used, int | float) else None,
            exhausted=refused,
            reason=reason or ("api key not active" if usage_info.get("active") is False else None),
        )

    async def mark_exhausted(self, engine: str, *, reason: str, reset_at: float | None = None) -> QuotaInfo:
        """The engine refused for lack of quota (Plant.id 429, Pl@ntNet 429): exhausted until `reset_at` (None: until a new report)."""
        return await self.record(engine, remaining=0, reset_at=reset_at, exhausted=True, reason=reason)

    # ---- reading -------------------------------------------------------------------------------

    async def info(self, engine: str) -> QuotaInfo | None:
        """The last report (None: never reported, or reset since)."""
        try:
            raw = await self._redis.hgetall(self.prefix + engine)
        except REDIS_ERRORS as exc:
            self._quiet.warning("read", "quota tracker unavailable, answering from this process's memory: %r", exc)
            info = self._last.get(engine)
            if info is not None and info.reset_at is not None and time.time() >= info.reset_at:
                return None
            return info
        if not raw:
            self._last.pop(engine, None)
            with contextlib.suppress(KeyError):  # nothing known any more: no stale value on /metrics
                QUOTA_REMAINING.remove(engine)
            return None
        fields = {_text(k): _text(v) for k, v in raw.items()}
        info = QuotaInfo(
            remaining=_float(fields.get("remaining")),
            limit=_float(fields.get("limit")),
            used=_float(fields.get("used")),
            reset_at=_float(fields.get("reset_at")),
            exhausted=fields.get("exhausted") == "1",
            reason=fields.get("reason"),
            updated_at=_float(fields.get("updated_at")) or 0.0,
        )
        self._remember(engine, info)
        return info

    async def remaining(self, engine: str) -> int | None:
        """Whole units left (None: unknown)."""
        info = await self.info(engine)
        if info is None or info.remaining is None:
            return None
        if info.exhausted and info.remaining > 0:
            return 0
        return max(0, math.floor(info.remaining))

    async def exhausted(self, engine: str, *, cost: float = 1) -> bool:
        """Whether the engine should be skipped: it said it is out, or fewer than `cost` units are left."""
        info = await self.info(engine)
        return info is not None and info.is_exhausted(cost=cost)

    def _remember(self, engine: str, info: QuotaInfo) -> None:
        if info.exhausted and info.remaining is None:
            info = replace(info, remaining=0)
        self._last[engine] = info
        if info.remaining is not None:
            QUOTA_REMAINING.labels(engine).set(0 if info.exhausted else info.remaining)


def next_utc_midnight(now: float | None = None) -> float:
    """Unix time of the next 00:00 UTC (when Pl@ntNet's daily quota resets)."""
    moment = datetime.fromtimestamp(now if now is not None else time.time(), UTC)
    return (datetime(moment.year, moment.month, moment.day, tzinfo=UTC) + timedelta(days=1)).timestamp()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:  # plain dicts are case-sensitive; httpx.Headers is not
        value = next((v for k, v in headers.items() if k.lower() == name.lower()), None)
    return value


def _float(value: str | None) -> float | None:
    return float(value) if value not in (None, "") else None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
