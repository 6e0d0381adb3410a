"""The one origin: each public path reaches the service that owns it, through Traefik."""

from __future__ import annotations

import re

import httpx


def test_auth_health_answers_through_the_edge(edge: httpx.Client) -> None:
    response = edge.get("/api/v1/auth/health/")

    assert response.status_code == 200
    assert response.json()["service"] == "auth-service"


def test_gateway_health_has_the_seed_shape_through_the_edge(edge: httpx.Client) -> None:
    response = edge.get("/api/v1/plant-identification/identify/health/")

    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "healthy"
    assert body["version"] == "v1"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", body["timestamp"])
    for engine, fail_max in (("plant_id", 3), ("plantnet", 5)):
        assert body["services"][engine] == {"available": True, "circuit_state": "closed", "fail_count": f"0/{fail_max}"}
    assert body["services"]["redis"] == {"available": True}
    assert set(body["authentication"]) == {"mode", "requires_auth"}


def test_wagtail_pages_api_answers_through_the_edge(edge: httpx.Client) -> None:
    response = edge.get("/api/v2/pages/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["meta"]["total_count"] >= 1


def test_wagtail_admin_login_page_renders_through_the_edge(edge: httpx.Client) -> None:
    response = edge.get("/cms/", follow_redirects=True)

    assert response.status_code == 200
    assert str(response.url.path).startswith("/cms/login/")
    assert "<form" in response.text and 'name="password"' in response.text


def test_admin_static_files_are_served_through_the_edge(edge: httpx.Client) -> None:
    page = edge.get("/cms/login/")
    static_paths = re.findall(r'(?:href|src)="(/static/[^"]+\.(?:css|js))', page.text)
    assert static_paths, "the login page links no static files"

    response = edge.get(static_paths[0])

    assert response.status_code == 200
    assert len(response.content) > 0


def test_an_unrouted_path_is_not_found_at_the_edge(edge: httpx.Client) -> None:
    assert edge.get("/no-such-thing/").status_code == 404
