"""The platform's error envelope `{"detail", "code"}` for DRF views and for Django's error pages under /api/."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from plant_shared.errors import ApiError, default_code, error_body
from plant_shared.outages import OUTAGE_CODE, OUTAGE_DETAIL, RETRY_AFTER_S, is_dependency_outage
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler

API_PREFIX = "/api/"
log = logging.getLogger(__name__)


def envelope_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's `EXCEPTION_HANDLER`: DRF's own handling (status, headers), with the envelope as body.

    Returns None for unexpected exceptions, so Django logs them and `server_error` answers.
    """
    if isinstance(exc, ApiError):
        return Response(error_body(exc.detail, exc.code), status=exc.status, headers=exc.headers)
    # DRF's own exceptions (e.g. AuthUnavailable) already say what to answer; anything else that is
    # a dependency outage is a 503.
    if not isinstance(exc, APIException) and is_dependency_outage(exc):  # PostgreSQL restarting (or the pool timing out meanwhile): retry later
        log.error("dependency unavailable: %r", exc)
        return Response(error_body(OUTAGE_DETAIL, OUTAGE_CODE), status=503, headers={"Retry-After": str(RETRY_AFTER_S)})
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ValidationError):
        response.data = error_body("The request is invalid.", "validation_error", errors=response.data)
        return response
    detail = response.data.get("detail") if isinstance(response.data, dict) else None
    # DRF's ErrorDetail carries the exception's code (`not_found`, `throttled`, …).
    code = getattr(detail, "code", None) or default_code(response.status_code)
    response.data = error_body(str(detail or _phrase(response.status_code)), code)
    return response


def _phrase(status: int) -> str:
    return f"{HTTPStatus(status).phrase}."


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def _envelope(status: int, detail: str | None = None) -> JsonResponse:
    return JsonResponse(error_body(detail or _phrase(status), default_code(status)), status=status)


@csrf_exempt  # like every DRF view: a POST with a session cookie gets the 404, not the HTML CSRF page
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """No API endpoint at this path (caught here so the envelope holds even with DEBUG on)."""
    hint = "" if request.path.endswith("/") else " API paths end with a slash."
    return _envelope(404, f"No API endpoint at {request.path}.{hint}")


# Django's handler400/403/404/500 (used when DEBUG is off): JSON under /api/, HTML for the admin.


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _envelope(400) if _is_api(request) else defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _envelope(403) if _is_api(request) else defaults.permission_denied(request, exception)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _envelope(404) if _is_api(request) else defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    return _envelope(500, "Internal server error.") if _is_api(request) else defaults.server_error(request)
