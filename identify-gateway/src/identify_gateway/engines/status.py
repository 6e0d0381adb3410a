"""Each engine's breaker state, as the health endpoint reports it (read from the shared breakers)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from identify_gateway.resilience import EngineBreaker


class Engine(StrEnum):
    PLANT_ID = "plant_id"
    PLANTNET = "plantnet"


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class EngineStatus:
    circuit_state: CircuitState
    fail_count: int
    fail_max: int
    enabled: bool = True
    reason: str | None = None  # why it was forced open (operators only)

    @property
    def available(self) -> bool:
        return self.enabled and self.circuit_state is CircuitState.CLOSED


async def engine_status(breaker: EngineBreaker, *, enabled: bool = True) -> EngineStatus:
    """The breaker's shared state (one Redis read; this process's own state when Redis is down)."""
    snapshot = await breaker.snapshot()
    return EngineStatus(CircuitState(snapshot.state), snapshot.fail_count, snapshot.fail_max, enabled=enabled, reason=snapshot.reason)
