"""Resilience primitives of the gateway: small classes over the process's one async Redis client.

| module | class | Redis keys | Redis down |
|---|---|---|---|
| cache | `ResultCache`, `cache_key` | `gw:cache:` | fail open: miss / no-op |
| locks | `SingleFlight` | `gw:lock:` | fail open: compute without the lock ("no_lock"), in-process dedupe kept |
| breakers | `EngineBreaker` | `gw:cb:` | fall back to a process-local pybreaker state; shared state wins on return |
| limits | `RateLimiter` | `gw:rl:` | fail open (configurable), logged and counted |
| limits | `ConcurrencyLimiter` | `gw:cc:` | fall back to a per-process count |
| quotas | `QuotaTracker` | `gw:quota:` | this process's last known values; unknown is not exhausted |
"""

from identify_gateway.resilience.breakers import BreakerSnapshot, EngineBreaker
from identify_gateway.resilience.cache import ResultCache, cache_key
from identify_gateway.resilience.errors import BreakerOpen, EngineBusy, ResilienceError
from identify_gateway.resilience.limits import ConcurrencyLimiter, RateDecision, RateLimiter
from identify_gateway.resilience.locks import SingleFlight
from identify_gateway.resilience.quotas import QuotaInfo, QuotaTracker, next_utc_midnight

__all__ = [
    "BreakerOpen",
    "BreakerSnapshot",
    "ConcurrencyLimiter",
    "EngineBreaker",
    "EngineBusy",
    "QuotaInfo",
    "QuotaTracker",
    "RateDecision",
    "RateLimiter",
    "ResilienceError",
    "ResultCache",
    "SingleFlight",
    "cache_key",
    "next_utc_midnight",
]
