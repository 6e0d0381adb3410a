"""`GET …/identify/health/`: the seed's JSON shape, 200 when healthy, 503 when degraded or worse."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy.engine import make_url

from identify_gateway.engines.status import CircuitState, EngineStatus
from identify_gateway.routes.health import overall_status

HEALTH = "/api/v1/plant-identification/identify/health/"


async def test_healthy_report_has_the_seed_shape(client: AsyncClient) -> None:
    response = await client.get(HEALTH)

    assert response.status_code == 200
    body = response.json()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body.pop("timestamp"))
    assert body == {
        "status": "healthy",
        "version": "v1",
        "services": {
            "plant_id": {"available": True, "circuit_state": "closed", "fail_count": "0/3"},
            "plantnet": {"available": True, "circuit_state": "closed", "fail_count": "0/5"},
            "redis": {"available": True},
        },
        "authentication": {"mode": "development", "requires_auth": False},
    }


async def test_fail_counts_show_the_configured_thresholds(make_app: Callable[..., Any], running: Callable[..., Any]) -> None:
    async with running(make_app(plant_id_fail_max=4, plantnet_fail_max=7)) as client:
        services = (await client.get(HEALTH)).json()["services"]

    assert services["plant_id"]["fail_count"] == "0/4"
    assert services["plantnet"]["fail_count"] == "0/7"


async def test_redis_down_is_degraded_503_and_answers_quickly(make_app: Callable[..., Any], running: Callable[..., Any], dead_redis_url: str) -> None:
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
