"""Each engine's breaker state, as the health endpoint reports it.

The breakers arrive with the gateway issue; until then every engine reads closed with no failures.
They plug in here: `engine_status` is the one place the health endpoint asks.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from identify_gateway.config import Settings


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

    @property
    def available(self) -> bool:
        return self.circuit_state is CircuitState.CLOSED


def fail_max(engine: Engine, settings: Settings) -> int:
    return settings.plant_id_fail_max if engine is Engine.PLANT_ID else settings.plantnet_fail_max


async def engine_status(engine: Engine, settings: Settings) -> EngineStatus:
    """Breaker state of `engine` (async: the real state will be read from Redis)."""
    return EngineStatus(CircuitState.CLOSED, fail_count=0, fail_max=fail_max(engine, settings))
