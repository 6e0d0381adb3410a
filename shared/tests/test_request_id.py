from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI

from plant_shared.request_id import RequestIdMiddleware, accept_or_new, current_request_id

UUID = r"[0-9a-f-]{36}"


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/echo")
    async def echo() -> dict[str, str | None]:
        return {"seen": current_request_id()}

    app.add_middleware(RequestIdMiddleware)
    return app


async def _get(headers: dict[str, str] | None = None) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app()), base_url="http://t") as client:
        return await client.get("/echo", headers=headers)


async def test_a_well_formed_id_is_kept_bound_and_echoed() -> None:
    response = await _get({"X-Request-ID": "abc-123_x.y"})

    assert response.headers["x-request-id"] == "abc-123_x.y"
    assert response.json() == {"seen": "abc-123_x.y"}


@pytest.mark.parametrize("bad", ["", "a b", "x" * 129, "<x>", "id;drop"])
async def test_a_missing_or_malformed_id_is_replaced_by_a_uuid(bad: str) -> None:
    response = await _get({"X-Request-ID": bad} if bad else None)

    rid = response.headers["x-request-id"]
    assert re.fullmatch(UUID, rid)
    assert response.json() == {"seen": rid}


async def test_the_id_is_unbound_after_the_request() -> None:
    await _get({"X-Request-ID": "gone-after"})

    assert current_request_id() is None


def test_accept_or_new_keeps_only_safe_ids() -> None:
    assert accept_or_new("ok-1") == "ok-1"
    assert accept_or_new("not ok") != "not ok"
