"""The platform's error envelope: every error body is `{"detail": <sentence>, "code": <machine code>}`."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

# Codes for the plain HTTP statuses, used when a handler raised no code of its own.
_DEFAULT_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "throttled",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}


def default_code(status: int) -> str:
    return _DEFAULT_CODES.get(status, HTTPStatus(status).phrase.lower().replace(" ", "_") if status in HTTPStatus._value2member_map_ else "error")


def error_body(detail: str, code: str, **extra: Any) -> dict[str, Any]:
    """Build the envelope; `extra` carries optional structured fields (e.g. `errors`)."""
    return {"detail": detail, "code": code, **extra}


class ApiError(Exception):
    """Raise from any layer to answer with the envelope.

    Args:
        status: HTTP status code.
        detail: a human sentence.
        code: a stable machine code; defaults from the status.
        headers: extra response headers (e.g. `Retry-After`).
    """

    def __init__(self, status: int, detail: str, code: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code or default_code(status)
        self.headers = headers or {}
