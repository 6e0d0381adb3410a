"""drf-spectacular hooks."""

from __future__ import annotations

from typing import Any


def only_platform_endpoints(endpoints: list[tuple[str, str, str, Any]], **_: Any) -> list[tuple[str, str, str, Any]]:
    """Describe the platform's own DRF endpoints (`/api/v1/…`), not Wagtail's `/api/v2/` viewsets."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith("/api/v1/")]


ERROR_ENVELOPE = "ErrorEnvelope"


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_ENVELOPE}"}}}}


def document_error_responses(result: dict[str, Any], **_: Any) -> dict[str, Any]:
    """Add the errors every endpoint can answer (in the platform's envelope) to each operation.

    drf-spectacular documents only the success: the 400 of a bad query or body (unknown query
    parameters are refused too), the 401/403 of a token-protected view and the 404 of an id that
    is not the member's (or of a page past the last) would otherwise be answers the document
    does not know.
    """
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR_ENVELOPE] = {
        "type": "object",
        "properties": {
            "detail": {"type": "string", "description": "A sentence for people."},
            "code": {"type": "string", "description": "A stable machine code."},
            "errors": {"description": "Validation errors by field (400 only)."},
        },
        "required": ["detail", "code"],
    }
    for path, operations in result.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            responses.setdefault("400", _error("Invalid query parameters or body."))
            if any(requirement for requirement in operation.get("security", [])):
                responses.setdefault("401", _error("No valid access token."))
                responses.setdefault("403", _error("Not allowed for this token (a member's or a service's only)."))
            if "{" in path or any(parameter.get("name") == "page" for parameter in operation.get("parameters", [])):
                responses.setdefault("404", _error("Unknown id, or not the caller's; or a page past the last."))
    return result
