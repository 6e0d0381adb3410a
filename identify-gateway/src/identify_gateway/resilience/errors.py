"""Typed errors of the resilience primitives: callers map them to HTTP answers."""

from __future__ import annotations

import math


class ResilienceError(Exception):
    """Base class: a primitive refused to run a call."""


class BreakerOpen(ResilienceError):
    """The engine's circuit is open (or a half-open probe is already running): the call was not made.

    Attributes:
        engine: the breaker's name.
        retry_after_s: seconds until a call may be let through again (a float; `retry_after_header`
            rounds it up for `Retry-After`). None when the breaker was forced open with no end
            (an operator must reset it).
        reason: why it was forced open, if it was (for logs and health, never for end users).
    """

    def __init__(self, engine: str, retry_after_s: float | None, *, reason: str | None = None) -> None:
        self.engine = engine
        self.retry_after_s = retry_after_s
        self.reason = reason
        wait = "until an operator resets it" if retry_after_s is None else f"retry in {retry_after_s:.1f} s"
        super().__init__(f"circuit of {engine} is open ({wait})" + (f": {reason}" if reason else ""))

    def retry_after_header(self, *, default_s: int = 60) -> int:
        """Whole seconds for a `Retry-After` header (at least 1; `default_s` when there is no end)."""
        if self.retry_after_s is None:
            return default_s
        return max(1, math.ceil(self.retry_after_s))


class EngineBusy(ResilienceError):
    """The engine's per-process concurrency cap is full: the call was not made (Envoy-style overflow)."""

    def __init__(self, engine: str, max_concurrency: int) -> None:
        self.engine = engine
        self.max_concurrency = max_concurrency
        super().__init__(f"{engine} already has {max_concurrency} calls in flight in this process")
