"""The ASGI stack uvicorn serves: request ids on every response, metrics by route template."""

import re
import uuid

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/cms/login/", "/api/v2/pages/", "/api/v2/no-such-endpoint/", "/livez"])
async def test_incoming_request_id_is_echoed(asgi_client, path):
    response = await asgi_client.get(path, headers={"X-Request-ID": "edge-abc.123"})

    assert response.headers["X-Request-ID"] == "edge-abc.123"


async def test_request_id_is_generated_when_none_arrives(asgi_client):
    response = await asgi_client.get("/cms/login/")

    assert uuid.UUID(response.headers["X-Request-ID"])


async def test_requests_are_counted_by_route_template_not_raw_path(asgi_client):
    # given a page detail request, whose raw path carries the page id
    home_id = (await asgi_client.get("/api/v2/pages/")).json()["items"][0]["id"]
    assert (await asgi_client.get(f"/api/v2/pages/{home_id}/")).status_code == 200

    # when
    exposition = (await asgi_client.get("/metrics")).text

    # then
    routes = set(re.findall(r'http_requests_total\{[^}]*route="([^"]*)"[^}]*service="cms"', exposition))
    assert "/api/v2/pages/<int:pk>/" in routes
    assert "/api/v2/pages/" in routes
    assert f"/api/v2/pages/{home_id}/" not in routes


async def test_probes_are_not_measured(asgi_client):
    await asgi_client.get("/livez")

    exposition = (await asgi_client.get("/metrics")).text

    assert 'route="/livez"' not in exposition


# The settings silence this (WhiteNoise streams files synchronously); pytest resets warning filters.
@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators")
async def test_static_files_are_served_and_counted_under_one_label(asgi_client):
    response = await asgi_client.get("/static/wagtailadmin/css/core.css")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    exposition = (await asgi_client.get("/metrics")).text
    assert 'route="/static/{path}"' in exposition
    assert 'route="/static/wagtailadmin/css/core.css"' not in exposition
