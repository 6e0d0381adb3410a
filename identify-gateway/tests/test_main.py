"""The process contract: probes, request ids, the error envelope, the long-lived clients."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from httpx import AsyncClient


API = "/api/v1/plant-identification"


async def test_readyz_is_200_when_postgres_and_redis_answer(client: AsyncClient) -> None:
    response = await client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"postgres": {"ok": True}, "redis": {"ok": True}}}


async def test_readyz_is_503_and_names_redis_when_redis_is_down(make_app: Callable[..., Any], running: Callable[..., Any], dead_redis_url: str) -> None:
    async with running(make_app(redis_url=dead_redis_url)) as client:
        response = await client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert body["checks"]["postgres"] == {"ok": True}
    assert body["checks"]["redis"]["ok"] is False


async def test_livez_answers_without_dependencies(make_app: Callable[..., Any], running: Callable[..., Any], dead_redis_url: str) -> None:
    async with running(make_app(redis_url=dead_redis_url)) as client:
        response = await client.get("/livez")

    assert response.status_code == 200


async def test_incoming_request_id_is_echoed(client: AsyncClient) -> None:
    response = await client.get(f"{API}/identify/health/", headers={"X-Request-ID": "edge-given.id_42"})

    assert response.headers["X-Request-ID"] == "edge-given.id_42"


async def test_a_malformed_request_id_is_replaced(client: AsyncClient) -> None:
    response = await client.get("/livez", headers={"X-Request-ID": "bad id with spaces"})

    assert response.headers["X-Request-ID"] not in ("", "bad id with spaces")


async def test_unknown_path_answers_the_envelope(client: AsyncClient) -> None:
    response = await client.get(f"{API}/nowhere/")

    assert response.status_code == 404
    body = response.json()
    assert set(body) == {"detail", "code"} and body["code"] == "not_found" and body["detail"]


async def test_wrong_method_answers_the_envelope(client: AsyncClient) -> None:
    response = await client.post(f"{API}/identify/health/")

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


async def test_invalid_input_answers_the_envelope_with_the_field(make_app: Callable[..., Any], running: Callable[..., Any]) -> None:
    # Given a route with a typed parameter (the health route takes none)
    app = make_app()

    @app.get(f"{API}/_probe/{{count}}")
    async def probe(count: int) -> dict[str, int]:
        return {"count": count}

    # When it gets a value of the wrong type
    async with running(app) as client:
        response = await client.get(f"{API}/_probe/many")

    # Then the envelope says which field, with the machine code
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert "count" in body["detail"]


async def test_openapi_is_served_under_the_public_prefix(client: AsyncClient) -> None:
    response = await client.get(f"{API}/openapi.json")

    assert response.status_code == 200
    assert f"{API}/identify/health/" in response.json()["paths"]


async def test_metrics_label_routes_with_their_full_template(client: AsyncClient) -> None:
    await client.get(f"{API}/identify/health/")

    metrics = (await client.get("/metrics")).text

    assert f'route="{API}/identify/health/"' in metrics


async def test_lifespan_shares_one_client_per_engine_with_explicit_timeouts_and_closes_them(make_app: Callable[..., Any], running: Callable[..., Any]) -> None:
    app = make_app(plant_id_timeout_s=7.0, plantnet_timeout_s=11.0, engine_connect_timeout_s=2.0, plant_id_base_url="http://standin.test/api/v3")

    async with running(app):
        resources = app.resources
        assert resources.plant_id_http.timeout.read == 7.0
        assert resources.plantnet_http.timeout.read == 11.0
        assert resources.plant_id_http.timeout.connect == 2.0
        assert str(resources.plant_id_http.base_url) == "http://standin.test/api/v3/"
        assert await resources.redis.ping() is True

    assert resources.plant_id_http.is_closed and resources.plantnet_http.is_closed


async def test_every_public_route_is_documented_with_a_summary_and_its_error_answers(client: AsyncClient) -> None:
    spec = (await client.get(f"{API}/openapi.json")).json()

    operations = [(path, method, op) for path, methods in spec["paths"].items() for method, op in methods.items()]
    assert {f"{API}/identify/", f"{API}/identify/health/", f"{API}/history/", f"{API}/history/{{identification_id}}/"} <= set(spec["paths"])
    for path, method, op in operations:
        assert op.get("description"), f"{method.upper()} {path} has no docstring"
        if path not in (f"{API}/identify/health/", f"{API}/status/"):  # public: health, and the status page's shell (its data needs a token)
            assert "401" in op["responses"], f"{method.upper()} {path} does not declare 401"
    identify = spec["paths"][f"{API}/identify/"]["post"]
    assert {"200", "400", "401", "413", "415", "422", "429", "503"} <= set(identify["responses"])
    assert "multipart/form-data" in identify["requestBody"]["content"]
    assert identify["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/IdentificationResponse")


async def test_metrics_expose_the_gateway_series(client: AsyncClient) -> None:
    metrics = (await client.get("/metrics")).text

    for series in (
        "gateway_identifications_total", "gateway_identification_duration_seconds", "gateway_engine_calls_total",
        "gateway_engine_latency_seconds", "gateway_cache_hits_total", "gateway_cache_misses_total", "gateway_lock_events_total",
        "gateway_lock_wait_seconds", "gateway_breaker_state", "gateway_engine_quota_remaining", "gateway_image_decodes_total",
        "gateway_celery_queue_depth", "gateway_jobs_submitted_total", "gateway_engine_quota_alert",
    ):  # fmt: skip
        assert f"# HELP {series}" in metrics, series


async def test_validation_errors_are_documented_as_the_envelope_the_gateway_answers(client: AsyncClient, tokens: Any) -> None:
    # Found by Schemathesis: the document promised FastAPI's `{"detail": [...]}` for 422.
    spec = (await client.get(f"{API}/openapi.json")).json()
    answered = await client.get(f"{API}/history/", params={"page_size": 0}, headers={"Authorization": f"Bearer {tokens.mint()}"})

    for path in (f"{API}/history/", f"{API}/history/{{identification_id}}/", f"{API}/identifications/{{job_id}}/"):
        ref = spec["paths"][path]["get"]["responses"]["422"]["content"]["application/json"]["schema"]["$ref"]
        assert ref.endswith("/ValidationErrorBody"), (path, ref)
    assert answered.status_code == 422 and isinstance(answered.json()["detail"], str) and answered.json()["errors"]
    assert spec["components"]["schemas"]["ValidationErrorBody"]["properties"]["detail"]["type"] == "string"


async def test_identify_documents_its_token_as_optional_and_jobs_as_required(client: AsyncClient) -> None:
    # Found by Schemathesis: anonymous identifications (allowed outside production) looked like ignored auth.
    spec = (await client.get(f"{API}/openapi.json")).json()

    assert {} in spec["paths"][f"{API}/identify/"]["post"]["security"]
    assert spec["paths"][f"{API}/identifications/"]["post"]["security"] == [{"PlatformBearer": []}]


async def test_a_405_allows_every_method_of_the_path(client: AsyncClient) -> None:
    response = await client.put(f"{API}/history/")

    assert response.status_code == 405
    assert {m.strip() for m in response.headers["Allow"].split(",")} >= {"GET", "DELETE"}
