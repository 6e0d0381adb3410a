"""The editorial DRF endpoints are in the OpenAPI document, and the document validates."""

import pytest
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator

pytestmark = pytest.mark.django_db

EDITORIAL = [
    "/api/v1/search/",
    "/api/v1/blog/posts/", "/api/v1/blog/posts/{slug}/", "/api/v1/blog/authors/", "/api/v1/blog/categories/",
    "/api/v1/blog/series/", "/api/v1/blog/tags/",
    "/api/v1/internal/species/lookup/",
]


def test_every_editorial_endpoint_is_documented():
    schema = SchemaGenerator().get_schema(request=None, public=True)

    for path in EDITORIAL:
        assert path in schema["paths"], path
    search = schema["paths"]["/api/v1/search/"]["get"]
    assert {p["name"] for p in search["parameters"]} == {"q", "type", "page", "page_size"}
    assert search["security"] == [{}]  # public
    assert {"platformToken": []} in schema["paths"]["/api/v1/internal/species/lookup/"]["post"]["security"]


def test_schema_validates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
