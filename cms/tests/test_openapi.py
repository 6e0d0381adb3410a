"""The CMS's OpenAPI document describes every DRF endpoint a client or the gateway calls."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_the_openapi_document_lists_the_platform_endpoints(client) -> None:
    response = client.get("/api/v1/cms/openapi.json")

    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    paths = set(document["paths"])
    for expected in ("/api/v1/garden/plants/", "/api/v1/calendar/events/", "/api/v1/search/", "/api/v1/blog/posts/", "/api/v1/internal/species/lookup/"):
        assert expected in paths, sorted(paths)
    assert not any(path.startswith("/api/v2/") for path in paths)
