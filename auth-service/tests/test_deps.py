"""The typed dependency aliases hand routes the process-wide clients."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from auth_service.deps import RedisDep, SessionDep, SettingsDep

router = APIRouter()


@router.get("/api/v1/auth/deps-probe")
async def deps_probe(session: SessionDep, redis: RedisDep, settings: SettingsDep) -> dict[str, object]:
    return {
        "db": await session.scalar(text("SELECT 41 + 1")),
        "redis": await redis.ping(),
        "environment": settings.environment,
    }


async def test_route_gets_session_redis_and_settings(settings, make_app, running):
    app = make_app(settings)
    app.include_router(router)

    async with running(app) as client:
        response = await client.get("/api/v1/auth/deps-probe")

    assert response.json() == {"db": 42, "redis": True, "environment": "test"}
