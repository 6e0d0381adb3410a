"""The envelope `{"detail", "code"}` from DRF's exception handler and Django's error views."""

import json

from django.http import Http404
from plant_shared.errors import ApiError
from rest_framework import exceptions

from plant_cms.core import errors


def test_validation_error_keeps_field_errors_inside_the_envelope():
    response = errors.envelope_exception_handler(exceptions.ValidationError({"title": ["Required."]}), {})

    assert response.status_code == 400
    assert response.data["code"] == "validation_error"
    assert response.data["detail"]
    assert response.data["errors"] == {"title": ["Required."]}


def test_http404_becomes_not_found():
    response = errors.envelope_exception_handler(Http404("No such page."), {})

    assert response.status_code == 404
    assert response.data == {"detail": "No such page.", "code": "not_found"}


def test_throttled_keeps_its_code_and_retry_after_header():
    response = errors.envelope_exception_handler(exceptions.Throttled(wait=30), {})

    assert response.status_code == 429
    assert response.data["code"] == "throttled"
    assert response["Retry-After"] == "30"


def test_api_error_answers_its_own_status_code_and_headers():
    exc = ApiError(409, "The slug is taken.", "slug_taken", headers={"X-Hint": "rename"})

    response = errors.envelope_exception_handler(exc, {})

    assert response.status_code == 409
    assert response.data == {"detail": "The slug is taken.", "code": "slug_taken"}
    assert response["X-Hint"] == "rename"


def test_unexpected_exception_is_left_to_django():
    assert errors.envelope_exception_handler(RuntimeError("boom"), {}) is None


def test_server_error_under_api_answers_the_envelope(rf):
    response = errors.server_error(rf.get("/api/v2/pages/"))

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == {"detail": "Internal server error.", "code": "internal_error"}


def test_server_error_outside_api_stays_html(rf):
    response = errors.server_error(rf.get("/cms/pages/"))

    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
