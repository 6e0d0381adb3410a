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


async def test_validation_errors_are_documented_as_the_envelope_the_service_answers(client):
    # Found by Schemathesis: the document promised FastAPI's `{"detail": [...]}` for 422, and no 400.
    document = (await client.get("/api/v1/auth/openapi.json")).json()
    answered = await client.post("/api/v1/auth/login", json={})

    documented = document["paths"]["/api/v1/auth/login"]["post"]["responses"]["422"]["content"]["application/json"]["schema"]
    schema = document["components"]["schemas"][documented["$ref"].rsplit("/", 1)[-1]]
    assert answered.status_code == 422
    assert schema["properties"]["detail"]["type"] == "string" and isinstance(answered.json()["detail"], str)
    assert set(schema["required"]) == {"detail", "code"} and "errors" in schema["properties"]
    assert "HTTPValidationError" not in document["components"]["schemas"]
    # A body that is not even text (Schemathesis's case) is FastAPI's 400, not a 422.
    not_json = await client.post("/api/v1/auth/login", content=b"mz\xe9n<\r", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 400 and "400" in document["paths"]["/api/v1/auth/login"]["post"]["responses"]


async def test_the_token_endpoint_documents_its_415(client):
    document = (await client.get("/api/v1/auth/openapi.json")).json()
    answered = await client.post("/api/v1/auth/token", content=b"grant_type=client_credentials", headers={"Content-Type": "text/plain"})

    assert answered.status_code == 415
    assert "415" in document["paths"]["/api/v1/auth/token"]["post"]["responses"]


async def test_a_405_allows_every_method_of_the_path(client):
    # Found by Schemathesis: `/me` is three routes and the 405 named only the first one's method.
    response = await client.put("/api/v1/auth/me", json={})

    assert response.status_code == 405
    assert {m.strip() for m in response.headers["Allow"].split(",")} >= {"GET", "PATCH", "DELETE"}
    assert response.json()["code"] == "method_not_allowed"
