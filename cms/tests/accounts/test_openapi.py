"""The garden and calendar endpoints are in the OpenAPI document, with the bearer scheme."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

pytestmark = pytest.mark.django_db


def test_every_members_endpoint_is_documented():
    schema = SchemaGenerator().get_schema(request=None, public=True)

    paths = set(schema["paths"])
    for path in [
        "/api/v1/garden/plants/", "/api/v1/garden/plants/{id}/", "/api/v1/garden/plants/{plant_pk}/photos/",
        "/api/v1/garden/plants/{plant_pk}/photos/{id}/", "/api/v1/garden/plants/{plant_pk}/photos/{id}/image/", "/api/v1/garden/profile/",
        "/api/v1/calendar/tasks/", "/api/v1/calendar/tasks/{id}/", "/api/v1/calendar/events/", "/api/v1/calendar/events/{id}/done/",
        "/api/v1/calendar/events/{id}/skip/", "/api/v1/calendar/today/", "/api/v1/calendar/ical/", "/api/v1/calendar/ical/{token}.ics",
    ]:
        assert path in paths, path
    assert schema["components"]["securitySchemes"]["platformToken"]["scheme"] == "bearer"
    plants = schema["paths"]["/api/v1/garden/plants/"]["post"]
    assert {"platformToken": []} in plants["security"]
    feed = schema["paths"]["/api/v1/calendar/ical/{token}.ics"]["get"]
    assert "text/calendar" in feed["responses"]["200"]["content"]
