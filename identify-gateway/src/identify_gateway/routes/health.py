"""`GET …/identify/health/`: the seed's health report (engine breakers, Redis, auth mode)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel
from redis.asyncio import Redis
from redis.exceptions import RedisError

from identify_gateway.deps import RedisDep, SettingsDep
from identify_gateway.engines.status import CircuitState, Engine, EngineStatus, engine_status
from identify_gateway.routes import API_PREFIX
from plant_shared.settings import Environment

router = APIRouter(prefix=f"{API_PREFIX}/identify", tags=["identification"])

HealthStatus = Literal["healthy", "degraded", "unhealthy"]


class EngineHealth(BaseModel):
    available: bool
    circuit_state: CircuitState
    fail_count: str  # "failures/threshold", e.g. "0/3"


class RedisHealth(BaseModel):
    available: bool


class Services(BaseModel):
    plant_id: EngineHealth
    plantnet: EngineHealth
    redis: RedisHealth


class Authentication(BaseModel):
    mode: Literal["production", "development"]
    requires_auth: bool


class HealthReport(BaseModel):
    status: HealthStatus
    timestamp: str  # ISO-8601, UTC, seconds, "Z"
    version: Literal["v1"]
    services: Services
    authentication: Authentication


def overall_status(engines: Iterable[EngineStatus], *, redis_available: bool) -> HealthStatus:
    """The seed's rule: healthy when every breaker is closed, degraded when one is half-open, else unhealthy.

    Redis down with every breaker closed is `degraded`: identifications still run, without cache or locks.
    """
    engines = list(engines)
    if all(e.available for e in engines):
        return "healthy" if redis_available else "degraded"
    if any(e.circuit_state is CircuitState.HALF_OPEN for e in engines):
        return "degraded"
    return "unhealthy"


async def redis_answers(redis: Redis) -> bool:
    """A real PING, bounded by the client's socket timeouts."""
    try:
        return bool(await redis.ping())
    except (RedisError, OSError):
        return False


def _engine_health(status: EngineStatus) -> EngineHealth:
    return EngineHealth(
        available=status.available,
        circuit_state=status.circuit_state,
        fail_count=f"{status.fail_count}/{status.fail_max}",
    )


@router.get(
    "/health/",
    response_model=HealthReport,
    responses={503: {"model": HealthReport, "description": "Degraded or unhealthy."}},
)
async def identification_health(response: Response, redis: RedisDep, settings: SettingsDep) -> HealthReport:
    """Engine breaker states, Redis availability and the auth mode; 200 when healthy, 503 otherwise."""
    plant_id = await engine_status(Engine.PLANT_ID, settings)
    plantnet = await engine_status(Engine.PLANTNET, settings)
    redis_ok = await redis_answers(redis)
    status = overall_status([plant_id, plantnet], redis_available=redis_ok)
    response.status_code = 200 if status == "healthy" else 503
    return HealthReport(
        status=status,
        timestamp=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        version="v1",
        services=Services(plant_id=_engine_health(plant_id), plantnet=_engine_health(plantnet), redis=RedisHealth(available=redis_ok)),
        authentication=Authentication(
            mode="production" if settings.environment == Environment.PRODUCTION else "development",
            requires_auth=settings.auth_required,
        ),
    )
