"""drf-spectacular hooks."""

from __future__ import annotations

from typing import Any


def only_platform_endpoints(endpoints: list[tuple[str, str, str, Any]], **_: Any) -> list[tuple[str, str, str, Any]]:
    """Describe the platform's own DRF endpoints (`/api/v1/…`), not Wagtail's `/api/v2/` viewsets."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith("/api/v1/")]
