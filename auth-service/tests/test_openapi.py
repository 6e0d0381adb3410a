"""Every endpoint is in the OpenAPI document, described by its route's docstring."""

from __future__ import annotations

EXPECTED = {
    ("post", "/api/v1/auth/register"),
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/refresh"),
    ("post", "/api/v1/auth/logout"),
    ("post", "/api/v1/auth/logout-all"),
    ("get", "/api/v1/auth/me"),
    ("patch", "/api/v1/auth/me"),
    ("delete", "/api/v1/auth/me"),
    ("post", "/api/v1/auth/change-password"),
    ("post", "/api/v1/auth/password-reset"),
    ("post", "/api/v1/auth/password-reset/confirm"),
    ("get", "/api/v1/auth/admin/users"),
    ("get", "/api/v1/auth/admin/users/{user_id}"),
    ("patch", "/api/v1/auth/admin/users/{user_id}"),
    ("post", "/api/v1/auth/admin/users/{user_id}/revoke-sessions"),
    ("post", "/api/v1/auth/token"),
    ("get", "/.well-known/jwks.json"),
    ("get", "/api/v1/auth/health/"),
}


async def test_every_endpoint_is_documented_with_a_description(client):
    paths = (await client.get("/api/v1/auth/openapi.json")).json()["paths"]

    documented = {(method, path) for path, operations in paths.items() for method in operations}
    assert documented == EXPECTED
    for method, path in EXPECTED:
        assert paths[path][method].get("description"), (method, path)


async def test_protected_endpoints_declare_the_bearer_scheme(client):
    document = (await client.get("/api/v1/auth/openapi.json")).json()

    assert document["components"]["securitySchemes"]["HTTPBearer"]["bearerFormat"] == "JWT"
    assert document["paths"]["/api/v1/auth/me"]["get"]["security"] == [{"HTTPBearer": []}]
