"""`GET /api/v1/auth/health/`: the public health report."""

from __future__ import annotations

from auth_service import __version__


async def test_health_reports_ok_when_dependencies_answer(client):
    response = await client.get("/api/v1/auth/health/")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "service": "auth-service",
        "version": __version__,
        "checks": {"database": True, "redis": True, "denylist": True, "signing_key": True},
    }


async def test_health_is_503_degraded_when_redis_is_down(settings, dead_redis_url, make_app, running):
    app = make_app(settings.model_copy(update={"redis_url": dead_redis_url}))

    async with running(app) as client:
        response = await client.get("/api/v1/auth/health/")

    assert response.status_code == 503
    assert response.json()["status"] == "degraded"
    assert response.json()["checks"] == {"database": True, "redis": False, "denylist": True, "signing_key": True}


async def test_health_is_documented_with_its_docstring(client):
    operation = (await client.get("/api/v1/auth/openapi.json")).json()["paths"]["/api/v1/auth/health/"]["get"]

    assert operation["description"].startswith("Report whether the service")
    assert {"200", "503"} <= set(operation["responses"])
