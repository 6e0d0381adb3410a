"""What the resilience primitives share: the Redis errors they survive, JSON, and quiet logging."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from redis.exceptions import RedisError

try:  # orjson is faster; the standard library is enough when it is not installed
    import orjson
except ImportError:  # pragma: no cover - depends on the environment
    orjson = None  # type: ignore[assignment]

# A dead or stuck Redis surfaces as RedisError (ConnectionError, TimeoutError, ...); OSError covers a
# socket error that escapes the client's wrapping.
REDIS_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError)


def dumps(value: Any) -> bytes:
    if orjson is not None:
        return orjson.dumps(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def loads(raw: bytes | str) -> Any:
    if orjson is not None:
        return orjson.loads(raw)
    return json.loads(raw)


class QuietLog:
    """Log one line per `subject` at most every `interval_s`: an outage must not flood the log.

    Args:
        logger: where the lines go.
        interval_s: minimum seconds between two lines about the same subject.
    """

    def __init__(self, logger: logging.Logger, *, interval_s: float = 10.0) -> None:
        self.logger = logger
        self.interval_s = interval_s
        self._last: dict[str, float] = {}

    def warning(self, subject: str, message: str, *args: Any) -> None:
        now = time.monotonic()
        if now - self._last.get(subject, -self.interval_s - 1) >= self.interval_s:
            self._last[subject] = now
            self.logger.warning(message, *args)
