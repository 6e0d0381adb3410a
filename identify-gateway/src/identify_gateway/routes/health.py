"""`GET …/identify/health/`: the seed's health report (engine breakers, Redis, auth mode), plus
enrichment sources and the engines' quota left."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field
from redis.asyncio import Redis
from redis.exceptions import RedisError

from identify_gateway.deps import ResourcesDep
from identify_gateway.engines.status import CircuitState, Engine, EngineStatus, engine_status
from identify_gateway.resilience import QuotaInfo
from identify_gateway.routes import API_PREFIX
from plant_shared.settings import Environment

router = APIRouter(prefix=f"{API_PREFIX}/identify", tags=["identification"])

HealthStatus = Literal["healthy", "degraded", "unhealthy"]
TREFLE_NOTE = "Trefle is not used: the service announced its shutdown in 2021 (external-apis.md section 3)."


class EngineHealth(BaseModel):
    available: bool
    circuit_state: CircuitState
    fail_count: str  # "failures/threshold", e.g. "0/3"


class SourceHealth(EngineHealth):
    """An enrichment source: optional, so it never makes the gateway unhealthy."""

    enabled: bool
    note: str | None = None


class RedisHealth(BaseModel):
    available: bool


class Services(BaseModel):
    plant_id: EngineHealth
    plantnet: EngineHealth
    redis: RedisHealth
    gbif: SourceHealth
    cms: SourceHealth
    trefle: SourceHealth


class Authentication(BaseModel):
    mode: Literal["production", "development"]
    requires_auth: bool


class QuotaHealth(BaseModel):
    remaining: float | None = Field(description="Credits (Plant.id) or identifications (Pl@ntNet) left; null: not reported yet.")
    limit: float | None = None
    exhausted: bool
    resets_at: str | None = Field(default=None, description="ISO-8601 UTC time of the next reset, when known.")


class HealthReport(BaseModel):
    status: HealthStatus
    timestamp: str  # ISO-8601, UTC, seconds, "Z"
    version: Literal["v1"]
    services: Services
    authentication: Authentication
    quota: dict[str, QuotaHealth]


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
    return EngineHealth(available=status.available, circuit_state=status.circuit_state, fail_count=f"{status.fail_count}/{status.fail_max}")


def _source_health(status: EngineStatus, note: str | None = None) -> SourceHealth:
    return SourceHealth(**_engine_health(status).model_dump(), enabled=status.enabled, note=note)


def _quota(info: QuotaInfo | None) -> QuotaHealth:
    if info is None:
        return QuotaHealth(remaining=None, exhausted=False)
    resets = datetime.fromtimestamp(info.reset_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if info.reset_at else None
    return QuotaHealth(remaining=info.remaining, limit=info.limit, exhausted=info.is_exhausted(), resets_at=resets)


@router.get(
    "/health/",
    response_model=HealthReport,
    responses={503: {"model": HealthReport, "description": "Degraded or unhealthy."}},
)
async def identification_health(response: Response, resources: ResourcesDep) -> HealthReport:
    """Engine breaker states, Redis availability, auth mode and quota left; 200 when healthy, 503 otherwise."""
    settings, breakers, pipeline = resources.settings, resources.breakers, resources.pipeline
    configured = {e.name for e in pipeline.engines}
    plant_id, plantnet, gbif, cms, redis_ok, plant_id_quota, plantnet_quota = await asyncio.gather(
        engine_status(breakers[Engine.PLANT_ID], enabled=Engine.PLANT_ID in configured),
        engine_status(breakers[Engine.PLANTNET], enabled=Engine.PLANTNET in configured),
        engine_status(breakers["gbif"], enabled=settings.gbif_enabled),
        engine_status(breakers["cms"], enabled=pipeline.cms_enabled),
        redis_answers(resources.redis),
        resources.quotas.info(Engine.PLANT_ID),
        resources.quotas.info(Engine.PLANTNET),
    )
    pipeline.schedule_usage_refresh()  # Plant.id's /usage_info, at most once a minute, in the background
    status = overall_status([plant_id, plantnet], redis_available=redis_ok)
    response.status_code = 200 if status == "healthy" else 503
    return HealthReport(
        status=status,
        timestamp=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        version="v1",
        services=Services(
            plant_id=_engine_health(plant_id),
            plantnet=_engine_health(plantnet),
            redis=RedisHealth(available=redis_ok),
            gbif=_source_health(gbif),
            cms=_source_health(cms, None if cms.enabled else "Set GATEWAY_SERVICE_CLIENT_ID and _SECRET to read CMS species pages."),
            trefle=SourceHealth(available=False, circuit_state=CircuitState.OPEN, fail_count="0/0", enabled=False, note=TREFLE_NOTE),
        ),
        authentication=Authentication(
            mode="production" if settings.environment == Environment.PRODUCTION else "development",
            requires_auth=settings.auth_required,
        ),
        quota={Engine.PLANT_ID: _quota(plant_id_quota), Engine.PLANTNET: _quota(plantnet_quota)},
    )
