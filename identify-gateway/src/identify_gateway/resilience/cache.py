"""The identification result cache: JSON documents in Redis under `gw:cache:`.

Redis down: the cache **fails open**. `get` answers None (a miss) and `set` does nothing; each
failure is logged (at most once per 10 s) and counted in `gateway_cache_errors_total`.
Identification must keep working without its cache: a miss only costs an engine call.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
from collections.abc import Mapping, Sequence
from typing import Any

from prometheus_client import Counter
from redis.asyncio import Redis

from identify_gateway.resilience._support import REDIS_ERRORS, QuietLog, dumps, loads

KEY_VERSION = 1  # bump to orphan every cached result when the cached document's shape changes

CACHE_HITS = Counter("gateway_cache_hits_total", "Result-cache lookups that found a result.")
CACHE_MISSES = Counter("gateway_cache_misses_total", "Result-cache lookups that found nothing (Redis errors excluded).")
CACHE_ERRORS = Counter("gateway_cache_errors_total", "Result-cache operations that failed (Redis down, unreadable entry).", ["op"])

logger = logging.getLogger(__name__)
_SHA256 = re.compile(r"[0-9a-f]{64}")


def cache_key(*, image_sha256: str | Sequence[str], params: Mapping[str, str], engine_versions: Mapping[str, str]) -> str:
    """A stable SHA-256 (hex) naming one answer: the image bytes, the parameters, the engines.

    The canonical encoding is JSON with sorted keys and no whitespace, so the order of `params`
    and `engine_versions` does not matter.

    Args:
        image_sha256: hex SHA-256 of the uploaded bytes; for several images of one plant, the
            per-image hashes in upload order (order matters: organs pair with images).
        params: every parameter that changes the answer (language, organs, health, rounded
            latitude/longitude, ...), already formatted as strings.
        engine_versions: engine name to API/model version, so an engine upgrade misses the cache.

    Raises:
        ValueError: a hash is not 64 hex digits.
        TypeError: a parameter or version is not a string (1 and "1" must not name different keys).
    """
    hashes = [image_sha256] if isinstance(image_sha256, str) else list(image_sha256)
    hashes = [h.lower() for h in hashes]
    if not hashes or not all(_SHA256.fullmatch(h) for h in hashes):
        raise ValueError("image_sha256 must be the hex SHA-256 of the uploaded bytes (64 hex digits), or a non-empty list of them")
    for name, mapping in (("params", params), ("engine_versions", engine_versions)):
        for k, v in mapping.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError(f"{name} keys and values must be strings; format {k!r}={v!r} first (e.g. round coordinates)")
    document = {"v": KEY_VERSION, "images": hashes, "params": dict(params), "engines": dict(engine_versions)}
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return hashlib.sha256(canonical).hexdigest()


class ResultCache:
    """Identification results by cache key, as JSON with a TTL.

    Redis down: fail open (see the module docstring): `get` → None, `set` → no-op, logged and counted.

    Args:
        redis: the process's shared async client (one pool).
        prefix: key prefix of this concern.
        default_ttl_s: TTL when `set` is not given one.
        ttl_jitter: spread each TTL by up to this fraction (0.1: ±10 %) so that entries written
            together do not all expire together (Varnish's advice against synchronized expiry).
    """

    def __init__(self, redis: Redis, *, prefix: str = "gw:cache:", default_ttl_s: int, ttl_jitter: float = 0.0) -> None:
        if default_ttl_s <= 0:
            raise ValueError("default_ttl_s must be positive")
        if not 0 <= ttl_jitter < 1:
            raise ValueError("ttl_jitter must be in [0, 1)")
        self._redis = redis
        self.prefix = prefix
        self.default_ttl_s = default_ttl_s
        self.ttl_jitter = ttl_jitter
        self._quiet = QuietLog(logger)

    def _key(self, key: str) -> str:
        return self.prefix + key

    async def get(self, key: str) -> dict[str, Any] | None:
        """The cached document, or None on a miss, an unreadable entry or a Redis error."""
        try:
            raw = await self._redis.get(self._key(key))
        except REDIS_ERRORS as exc:
            CACHE_ERRORS.labels("get").inc()
            self._quiet.warning("get", "result cache unavailable, answering without it (fail open): %r", exc)
            return None
        if raw is None:
            CACHE_MISSES.inc()
            return None
        try:
            value = loads(raw)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            CACHE_ERRORS.labels("decode").inc()
            logger.warning("result cache entry %s is not a JSON object; treated as a miss", key)
            return None
        CACHE_HITS.inc()
        return value

    async def set(self, key: str, value: dict[str, Any], *, ttl_s: int | None = None) -> None:
        """Store `value` (JSON-serialisable) for `ttl_s` seconds (default: `default_ttl_s`); never raises on Redis errors."""
        ttl = self.default_ttl_s if ttl_s is None else ttl_s
        if ttl <= 0:
            return  # a non-positive TTL means "do not cache"
        if self.ttl_jitter:
            ttl = max(1, round(ttl * (1 + random.uniform(-self.ttl_jitter, self.ttl_jitter))))
        payload = dumps(value)
        try:
            await self._redis.set(self._key(key), payload, ex=ttl)
        except REDIS_ERRORS as exc:
            CACHE_ERRORS.labels("set").inc()
            self._quiet.warning("set", "result cache unavailable, result not stored (fail open): %r", exc)
