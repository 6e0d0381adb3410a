"""CORS from an allow-list (EDGE_CORS_ORIGINS), with credentials, preflights answered at the edge."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.edge.support import cors_origins, logged_by, new_request_id

# A preflight per API service, and one on a legacy path.
PREFLIGHTS = [
    ("/api/v1/auth/refresh", "auth", "POST", "content-type,x-csrf-token"),
    ("/api/v1/plant-identification/identify/", "gateway", "POST", "authorization"),
    ("/api/v1/garden/plants/", "cms", "PATCH", "authorization,content-type"),
    ("/api/auth/refresh", "auth", "POST", "content-type,x-csrf-token"),
]


@pytest.fixture(scope="module")
def allowed_origin() -> str:
    origins = cors_origins()
    if not origins:
        pytest.skip("EDGE_CORS_ORIGINS allows no origin in this stack (production default)")
    return origins[0]


@pytest.mark.parametrize(("path", "service", "method", "request_headers"), PREFLIGHTS)
def test_a_preflight_from_an_allowed_origin_is_answered_at_the_edge(
    edge: httpx.Client, log_dir: Path, allowed_origin: str, path: str, service: str, method: str, request_headers: str
) -> None:
    request_id = new_request_id()

    response = edge.options(path, headers={
        "Origin": allowed_origin, "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": request_headers, "X-Request-ID": request_id,
    })

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == allowed_origin  # echoed, never "*"
    assert response.headers["access-control-allow-credentials"] == "true"
    assert method in response.headers["access-control-allow-methods"].split(",")
    allowed = {h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")}
    assert set(request_headers.split(",")) <= allowed
    assert int(response.headers["access-control-max-age"]) > 0
    # The service never saw it.
    assert not logged_by(log_dir, service, request_id, wait=0.5)


@pytest.mark.parametrize("origin", ["https://evil.example", "http://localhost:1", "null"])
def test_a_preflight_from_another_origin_gets_no_allow_origin(edge: httpx.Client, origin: str) -> None:
    response = edge.options("/api/v1/auth/refresh", headers={"Origin": origin, "Access-Control-Request-Method": "POST"})

    assert "access-control-allow-origin" not in response.headers


def test_an_allowed_origin_can_read_the_answer_and_its_request_id(edge: httpx.Client, allowed_origin: str) -> None:
    response = edge.get("/api/v1/auth/health/", headers={"Origin": allowed_origin})

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == allowed_origin
    assert response.headers["access-control-allow-credentials"] == "true"
    exposed = {h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")}
    assert {"x-request-id", "retry-after", "ratelimit-remaining", "deprecation", "sunset", "link"} <= exposed
    assert "origin" in {v.strip().lower() for v in response.headers["vary"].split(",")}


def test_another_origin_cannot_read_the_answer(edge: httpx.Client) -> None:
    response = edge.get("/api/v1/auth/health/", headers={"Origin": "https://evil.example"})

    assert response.status_code == 200  # served (CORS is enforced by the browser), but not readable
    assert "access-control-allow-origin" not in response.headers


def test_the_admin_is_not_open_to_other_origins(edge: httpx.Client, allowed_origin: str) -> None:
    response = edge.get("/cms/login/", headers={"Origin": allowed_origin})

    assert "access-control-allow-origin" not in response.headers
