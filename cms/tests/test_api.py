"""Wagtail API v2 at /api/v2/, answering errors with the platform's envelope."""

import pytest

pytestmark = pytest.mark.django_db


def test_pages_endpoint_lists_the_home_page(client):
    response = client.get("/api/v2/pages/")

    assert response.status_code == 200
    types = [item["meta"]["type"] for item in response.json()["items"]]
    assert types == ["core.HomePage"]


def test_page_detail_carries_the_home_pages_api_fields(client):
    home_id = client.get("/api/v2/pages/").json()["items"][0]["id"]

    response = client.get(f"/api/v2/pages/{home_id}/")

    assert response.status_code == 200
    assert "strapline" in response.json()


@pytest.mark.parametrize("endpoint", ["images", "documents"])
def test_media_endpoints_are_registered(client, endpoint):
    response = client.get(f"/api/v2/{endpoint}/")

    assert response.status_code == 200
    assert response.json()["meta"]["total_count"] == 0


def test_unknown_api_path_answers_the_json_envelope(client):
    response = client.get("/api/v2/no-such-endpoint/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"detail", "code"}
    assert body["code"] == "not_found"


def test_missing_page_answers_the_json_envelope(client):
    response = client.get("/api/v2/pages/999999/")

    assert response.status_code == 404
    assert response.json() == {"detail": "No Page matches the given query.", "code": "not_found"}


def test_unknown_query_parameter_answers_bad_request_envelope(client):
    response = client.get("/api/v2/pages/?colour=green")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "bad_request"
    assert "colour" in body["detail"]
