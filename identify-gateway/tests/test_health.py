"""`GET …/identify/health/`: the seed's JSON shape from the real shared breakers, Redis, auth mode
and quotas; 200 when healthy, 503 when degraded or worse."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from identify_gateway.engines.status import CircuitState, EngineStatus
from identify_gateway.routes.health import overall_status

HEALTH = "/api/v1/plant-identification/identify/health/"


async def test_healthy_report_has_the_seed_shape(standin: Any, make_app: Callable[..., Any], running: Callable[..., Any]) -> None:
    async with running(make_app()) as client:
        response = await client.get(HEALTH)

    assert response.status_code == 200
    body = response.json()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body.pop("timestamp"))
    services = body.pop("services")
    assert {k: services[k] for k in ("plant_id", "plantnet", "redis")} == {
        "plant_id": {"available": True, "circuit_state": "closed", "fail_count": "0/3"},
        "plantnet": {"available": True, "circuit_state": "closed", "fail_count": "0/5"},
        "redis": {"available": True},
    }
    assert body["status"] == "healthy" and body["version"] == "v1"
    assert body["authentication"] == {"mode": "development", "requires_auth": False}
    assert set(body["quota"]) == {"plant_id", "plantnet"}


async def test_trefle_is_reported_dead_and_optional_sources_never_make_it_unhealthy(standin: Any, make_app: Callable[..., Any], running: Callable[..., Any]) -> None:
    async with running(make_app()) as client:
        response = await client.get(HEALTH)

    services = response.json()["services"]
    assert response.status_code == 200
    assert services["trefle"]["available"] is False and services["trefle"]["enabled"] is False
    assert "shutdown" in services["trefle"]["note"]
    assert services["cms"]["enabled"] is False  # no service credentials configured
    assert services["gbif"]["enabled"] is False


async def test_fail_counts_show_the_configured_thresholds(standin: Any, make_app: Callable[..., Any], running: Callable[..., Any]) -> None:
    async with running(make_app(plant_id_fail_max=4, plantnet_fail_max=7)) as client:
        services = (await client.get(HEALTH)).json()["services"]

    assert services["plant_id"]["fail_count"] == "0/4"
    assert services["plantnet"]["fail_count"] == "0/7"


async def test_an_open_breaker_is_unhealthy_503_with_its_state(standin: Any, make_app: Callable[..., Any], running: Callable[..., Any]) -> None:
    app = make_app()
    async with running(app) as client:
        await app.resources.breakers["plant_id"].force_open("test: operator", for_s=60)
        response = await client.get(HEALTH)

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["services"]["plant_id"] == {"available": False, "circuit_state": "open", "fail_count": "0/3"}


async def test_failures_are_counted_in_the_shared_state(standin: Any, make_app: Callable[..., Any], running: Callable[..., Any], kit: SimpleNamespace) -> None:
    # Given Pl@ntNet failing
    standin.set("plantnet", "fail")
    app = make_app()
    async with running(app) as client:
        # When one identification runs
        await client.post(kit.IDENTIFY, files=kit.upload(kit.photo(101)))
        # Then another process (a second app on the same Redis prefix) sees the failure
        async with running(make_app()) as other:
            services = (await other.get(HEALTH)).json()["services"]

    assert services["plantnet"]["fail_count"] == "1/5"
    assert services["plantnet"]["circuit_state"] == "closed"


async def test_an_unconfigured_engine_is_unavailable(make_app: Callable[..., Any], running: Callable[..., Any]) -> None:
    async with running(make_app()) as client:  # no API keys at all
        response = await client.get(HEALTH)

    assert response.status_code == 503
    assert response.json()["services"]["plant_id"]["available"] is False


async def test_quota_left_is_reported_after_an_identification(standin: Any, make_app: Callable[..., Any], running: Callable[..., Any], kit: SimpleNamespace) -> None:
    standin.set("plantnet", remaining=42)
    async with running(make_app()) as client:
        await client.post(kit.IDENTIFY, files=kit.upload(kit.photo(102)))
        quota = (await client.get(HEALTH)).json()["quota"]

    assert quota["plantnet"]["remaining"] == 41
    assert quota["plantnet"]["exhausted"] is False
    assert quota["plantnet"]["resets_at"].endswith("Z")


async def test_redis_down_is_degraded_503_and_answers_quickly(standin: Any, make_app: Callable[..., Any], running: Callable[..., Any], dead_redis_url: str) -> None:
    async with running(make_app(redis_url=dead_redis_url)) as client:
        started = time.perf_counter()
        response = await client.get(HEALTH)
        elapsed = time.perf_counter() - started

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["services"]["redis"] == {"available": False}
    assert elapsed < 1.0


async def test_production_mode_reports_required_auth(make_app: Callable[..., Any], running: Callable[..., Any]) -> None:
    # The scratch server trusts any password, so a production-grade one can be added to the URL.
    database_url = make_url(os.environ["GATEWAY_DATABASE_URL"]).set(password="Zq8v3uYx1Lr0Ww6Nb2Kp5Ts9Hm4Jd7Ga")
    app = make_app(
        environment="production",
        database_url=database_url.render_as_string(hide_password=False),
        plant_id_api_key="k3Jw9QeX2mVt7LpR5nHb8ZcY1aFd4SgU6oTi0WqErTyUiOpAsDfG",
        plantnet_api_key="2b10AbCdEfGhIjKlMnOpQrStU",
    )
    async with running(app) as client:
        body = (await client.get(HEALTH)).json()

    assert body["authentication"] == {"mode": "production", "requires_auth": True}


async def test_anonymous_allowed_is_a_setting_of_its_own(make_app: Callable[..., Any], running: Callable[..., Any]) -> None:
    async with running(make_app(environment="development", anonymous_allowed=False)) as client:
        body = (await client.get(HEALTH)).json()

    assert body["authentication"] == {"mode": "development", "requires_auth": True}


def _engine(state: CircuitState, fails: int = 0, fail_max: int = 3) -> EngineStatus:
    return EngineStatus(state, fail_count=fails, fail_max=fail_max)


@pytest.mark.parametrize(
    ("plant_id", "plantnet", "redis", "expected"),
    [
        (_engine(CircuitState.CLOSED), _engine(CircuitState.CLOSED), True, "healthy"),
        (_engine(CircuitState.CLOSED), _engine(CircuitState.CLOSED), False, "degraded"),
        (_engine(CircuitState.HALF_OPEN), _engine(CircuitState.CLOSED), True, "degraded"),  # seed example 2
        (_engine(CircuitState.OPEN, 3), _engine(CircuitState.CLOSED), True, "unhealthy"),  # seed example 3
        (_engine(CircuitState.OPEN, 3), _engine(CircuitState.HALF_OPEN), True, "degraded"),
    ],
)
def test_overall_status_follows_the_seed_rule(plant_id: EngineStatus, plantnet: EngineStatus, redis: bool, expected: str) -> None:
    assert overall_status([plant_id, plantnet], redis_available=redis) == expected
