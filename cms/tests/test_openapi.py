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


def test_every_operation_documents_the_errors_it_answers(client) -> None:
    # Found by Schemathesis: the document listed only successes, while every endpoint answers 400
    # (unknown query parameter, invalid body) and the members' ones 401/403/404 in the envelope.
    document = client.get("/api/v1/cms/openapi.json").json()

    envelope = document["components"]["schemas"]["ErrorEnvelope"]
    assert set(envelope["required"]) == {"detail", "code"}
    plant = document["paths"]["/api/v1/garden/plants/{id}/"]
    for method in ("get", "put", "patch", "delete"):
        assert {"400", "401", "403", "404"} <= set(plant[method]["responses"]), method
    assert "400" in document["paths"]["/api/v1/blog/posts/"]["get"]["responses"]
    assert "401" not in document["paths"]["/api/v1/blog/posts/"]["get"]["responses"]  # public


def test_the_calendar_feed_settings_answer_options(member) -> None:
    # Found by Schemathesis: OPTIONS (DRF's metadata) crashed with 500, the view's `_profile`
    # method shadowing the profile cache of MemberMixin.
    response = member.client.options("/api/v1/calendar/ical/", **member.auth)

    assert response.status_code == 200
    assert member.get("/api/v1/calendar/ical/").status_code == 200


def test_a_post_to_an_unknown_api_path_with_a_session_cookie_is_a_json_404(client) -> None:
    # Found by Schemathesis: the catch-all was not CSRF-exempt, so a cookie got Django's HTML 403 page.
    csrf_client = type(client)(enforce_csrf_checks=True)
    csrf_client.cookies["sessionid"] = "whatever"

    response = csrf_client.post("/api/v1/garden/plants/not-an-id/", "{}", content_type="application/json")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_the_profile_documents_its_feed_urls_as_nullable(member, client) -> None:
    # Found by Schemathesis: with the feed turned off the answer holds null where the document said string.
    member.get("/api/v1/garden/profile/")  # the profile exists (with a feed) from the first read
    member.delete("/api/v1/calendar/ical/")
    profile = member.get("/api/v1/garden/profile/").json()
    document = client.get("/api/v1/cms/openapi.json").json()

    fields = document["components"]["schemas"]["Profile"]["properties"]
    assert profile["ical_url"] is None and profile["webcal_url"] is None
    assert fields["ical_url"].get("nullable") is True and fields["webcal_url"].get("nullable") is True
