"""Probes and metrics exist on each service's own port and are never reachable through the edge."""

from __future__ import annotations

import httpx
import pytest

INTERNAL_PATHS = [
    "/metrics",
    "/livez",
    "/readyz",
    "/ping",
    "/api/v1/auth/../../metrics",
    "/api/v2/../metrics",
    "/cms/../metrics",
    "/api/v2/%2e%2e/metrics",
    "/api/v1/plant-identification/%2E%2E/%2E%2E/%2E%2E/metrics",
    "//metrics",
]


@pytest.mark.parametrize("path", INTERNAL_PATHS)
def test_internal_paths_are_not_reachable_from_the_edge(edge_url: str, path: str) -> None:
    # Raw path on the wire: httpx would otherwise normalise the dot segments itself.
    with httpx.Client(timeout=10) as client:
        request = client.build_request("GET", edge_url)
        request.url = request.url.copy_with(raw_path=path.encode())
        response = client.send(request)

    assert response.status_code in (400, 404), (path, response.status_code)
    assert "http_requests_total" not in response.text
    assert "process_cpu_seconds_total" not in response.text


@pytest.mark.parametrize(
    ("url_env", "service", "public_path"),
    [
        ("PLATFORM_AUTH_URL", "auth-service", "/api/v1/auth/health/"),
        ("PLATFORM_GATEWAY_URL", "identify-gateway", "/api/v1/plant-identification/identify/health/"),
        ("PLATFORM_CMS_URL", "cms", "/api/v2/pages/"),
    ],
)
def test_each_service_counts_requests_by_route_on_its_internal_port(edge: httpx.Client, stack_env, url_env: str, service: str, public_path: str) -> None:
    edge.get(public_path)

    metrics = httpx.get(stack_env(url_env) + "/metrics", timeout=10).text

    samples = [line for line in metrics.splitlines() if line.startswith("http_requests_total{") and f'service="{service}"' in line]
    assert any('status="200"' in line for line in samples), samples
    assert any("http_request_duration_seconds_bucket" in line for line in metrics.splitlines())


@pytest.mark.parametrize("url_env", ["PLATFORM_AUTH_URL", "PLATFORM_GATEWAY_URL", "PLATFORM_CMS_URL"])
def test_each_service_is_live_and_ready_on_its_internal_port(stack_env, url_env: str) -> None:
    base = stack_env(url_env)

    assert httpx.get(base + "/livez", timeout=5).status_code == 200
    ready = httpx.get(base + "/readyz", timeout=5)
    assert ready.status_code == 200, ready.text


def test_traefik_exposes_its_own_metrics_on_the_internal_entry_point(stack_env) -> None:
    metrics = httpx.get(stack_env("PLATFORM_EDGE_INTERNAL_URL") + "/metrics", timeout=5).text

    assert "traefik_entrypoint_requests_total" in metrics
