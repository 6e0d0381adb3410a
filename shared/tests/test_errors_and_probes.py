from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI
from pydantic import BaseModel

from plant_shared.errors import ApiError, error_body
from plant_shared.fastapi_support import instrument
from plant_shared.health import run_checks


class Item(BaseModel):
    name: str


def _app(ready: bool = True) -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def read_item(item_id: int) -> dict[str, int]:
        if item_id == 7:
            raise ApiError(429, "Request was throttled. Expected available in 5 seconds.", headers={"Retry-After": "5"})
        if item_id == 13:
            raise RuntimeError("boom")
        return {"id": item_id}

    @app.post("/items")
    async def create(item: Item) -> Item:
        return item

    async def check() -> None:
        if not ready:
            raise ConnectionError("down")

    return instrument(app, service="svc-under-test", ready_checks=lambda _request: {"database": check})


async def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t")


async def test_api_error_uses_the_envelope_and_keeps_headers() -> None:
    async with await _client(_app()) as client:
        response = await client.get("/items/7")

    assert response.status_code == 429
    assert response.json() == error_body("Request was throttled. Expected available in 5 seconds.", "throttled")
    assert response.headers["retry-after"] == "5"


async def test_unknown_route_and_wrong_method_use_the_envelope() -> None:
    async with await _client(_app()) as client:
        missing = await client.get("/nope")
        wrong = await client.delete("/items")

    assert missing.status_code == 404 and missing.json() == {"detail": "Not found.", "code": "not_found"}
    assert wrong.status_code == 405 and wrong.json()["code"] == "method_not_allowed"


async def test_validation_errors_name_the_field() -> None:
    async with await _client(_app()) as client:
        bad_type = await client.get("/items/abc")
        bad_body = await client.post("/items", content=b"{not json", headers={"content-type": "application/json"})

    assert bad_type.status_code == 422
    assert bad_type.json()["code"] == "validation_error"
    assert "item_id" in bad_type.json()["detail"]
    assert bad_body.status_code == 422 and bad_body.json()["code"] == "validation_error"


async def test_an_unexpected_error_is_a_json_500_without_internals() -> None:
    async with await _client(_app()) as client:
        response = await client.get("/items/13")

    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error.", "code": "internal_error"}
    assert "boom" not in response.text


async def test_readiness_reflects_the_checks() -> None:
    async with await _client(_app(ready=True)) as up, await _client(_app(ready=False)) as down:
        ok = await up.get("/readyz")
        failing = await down.get("/readyz")

    assert ok.status_code == 200 and ok.json()["checks"] == {"database": {"ok": True}}
    assert failing.status_code == 503
    assert failing.json()["checks"]["database"] == {"ok": False, "error": "ConnectionError"}


async def test_metrics_are_labelled_by_route_template_not_raw_path() -> None:
    async with await _client(_app()) as client:
        for item_id in (1, 2, 3):
            await client.get(f"/items/{item_id}")
        metrics = (await client.get("/metrics")).text

    lines = [line for line in metrics.splitlines() if line.startswith("http_requests_total{") and "svc-under-test" in line]
    assert any('route="/items/{item_id}"' in line and 'status="200"' in line for line in lines)
    assert not any('route="/items/1"' in line for line in lines)


async def test_a_slow_check_times_out_instead_of_hanging() -> None:
    async def hangs() -> None:
        await asyncio.sleep(10)

    ok, report = await run_checks({"slow": hangs}, timeout=0.05)

    assert not ok and report["slow"] == {"ok": False, "error": "TimeoutError"}


async def test_routes_of_an_included_router_keep_their_prefix_in_the_label() -> None:
    from fastapi import APIRouter

    router = APIRouter()

    @router.get("/plants/{plant_id}")
    async def read_plant(plant_id: int) -> dict[str, int]:
        return {"id": plant_id}

    app = FastAPI()
    app.include_router(router, prefix="/api/v1/garden")
    instrument(app, service="svc-prefix", ready_checks=lambda _request: {})
    async with await _client(app) as client:
        await client.get("/api/v1/garden/plants/42")
        metrics = (await client.get("/metrics")).text

    labels = [line for line in metrics.splitlines() if line.startswith("http_requests_total{") and "svc-prefix" in line]
    assert any('route="/api/v1/garden/plants/{plant_id}"' in line for line in labels), labels
