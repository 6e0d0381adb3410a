"""drf-spectacular: describe the platform's bearer token in the OpenAPI document."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class PlatformTokenScheme(OpenApiAuthenticationExtension):
    target_class = "plant_shared.django_auth.PlatformTokenAuthentication"
    name = "platformToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "An access token from the auth service (`POST /api/v1/auth/login`), audience `cms`.",
        }
