"""The app as built by `create_app`: probes, request ids, the error envelope, the OpenAPI document."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from pydantic import BaseModel

REQUEST_ID = "X-Request-ID"


class Payload(BaseModel):
    email: str


async def test_readyz_is_200_when_postgres_and_redis_answer(client):
    response = await client.get("/readyz")

    assert response.status_code == 200
    ok = {"ok": True}
    assert response.json() == {"status": "ready", "checks": {"database": ok, "redis": ok, "denylist": ok, "signing_key": ok}}


async def test_readyz_is_503_when_redis_is_down(settings, dead_redis_url, make_app, running):
    app = make_app(settings.model_copy(update={"redis_url": dead_redis_url}))

    async with running(app) as client:
        response = await client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["redis"]["ok"] is False


async def test_livez_and_metrics_answer(client):
    assert (await client.get("/livez")).json() == {"status": "alive"}
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert "http_requests_total" in metrics.text


async def test_incoming_request_id_is_echoed(client):
    response = await client.get("/api/v1/auth/health/", headers={REQUEST_ID: "edge-abc.123"})

    assert response.headers[REQUEST_ID] == "edge-abc.123"


async def test_request_id_is_generated_when_missing(client):
    response = await client.get("/api/v1/auth/health/")

    uuid.UUID(response.headers[REQUEST_ID])  # raises if it is not one


async def test_malformed_request_id_is_replaced(client):
    response = await client.get("/api/v1/auth/health/", headers={REQUEST_ID: "bad id; drop table"})

    assert response.headers[REQUEST_ID] != "bad id; drop table"
    uuid.UUID(response.headers[REQUEST_ID])


async def test_unknown_route_answers_the_error_envelope(client):
    response = await client.get("/api/v1/auth/no-such-thing")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}
    assert REQUEST_ID in response.headers


async def test_wrong_method_answers_the_error_envelope(client):
    response = await client.post("/api/v1/auth/health/")

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


async def test_invalid_body_answers_the_validation_envelope(settings, make_app, running):
    # Given a route that takes a JSON body (the service has none yet)
    router = APIRouter()

    @router.post("/api/v1/auth/echo")
    async def echo(payload: Payload) -> Payload:
        return payload

    app = make_app(settings)
    app.include_router(router)

    # When the body misses a field
    async with running(app) as client:
        response = await client.post("/api/v1/auth/echo", json={})

    # Then the answer is the envelope, with the field named
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["detail"] == "Invalid request: email: Field required."
    assert body["errors"][0]["loc"] == ["body", "email"]


async def test_openapi_and_docs_live_under_the_service_prefix(client):
    openapi = await client.get("/api/v1/auth/openapi.json")
    docs = await client.get("/api/v1/auth/docs")

    assert openapi.status_code == 200
    assert openapi.json()["info"]["title"] == "Plant Community auth service"
    assert "/api/v1/auth/health/" in openapi.json()["paths"]
    assert docs.status_code == 200
    assert "/api/v1/auth/openapi.json" in docs.text
    assert (await client.get("/openapi.json")).status_code == 404


async def test_lifespan_builds_one_engine_whose_connections_are_reused(settings, make_app, running):
    app = make_app(settings)

    async with running(app) as client:
        engine = app.state.engine
        await client.get("/readyz")
        await client.get("/readyz")

        assert app.state.engine is engine
        assert engine.pool.checkedin() == 1  # the second request reused the first one's connection
