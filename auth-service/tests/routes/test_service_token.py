"""`POST /api/v1/auth/token`: client-credentials tokens for service-to-service calls."""

from __future__ import annotations

import base64
import uuid

import jwt
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from auth_service.db import create_sessionmaker
from auth_service.service_clients import register_client

URL = "/api/v1/auth/token"


@pytest.fixture
async def service_client(database_url):
    """A registered client allowed to call `cms`: (client_id, secret)."""
    client_id, secret = f"svc-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex + uuid.uuid4().hex
    engine = create_async_engine(database_url)
    async with create_sessionmaker(engine)() as session:
        await register_client(session, client_id=client_id, secret=secret, audiences=["cms"])
    await engine.dispose()
    return client_id, secret


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


async def test_form_request_with_basic_auth_gets_a_short_internal_token(client, service_client, settings):
    # Given a client allowed to call the CMS
    client_id, secret = service_client

    # When it asks for a CMS token the RFC 6749 way
    response = await client.post(URL, data={"grant_type": "client_credentials", "audience": "cms"}, headers=basic(client_id, secret))

    # Then it gets a 300-second token for the CMS only, with scope internal
    assert response.status_code == 200
    body = response.json()
    assert (body["token_type"], body["expires_in"], body["scope"]) == ("Bearer", 300, "internal")
    header = jwt.get_unverified_header(body["access_token"])
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert (header["alg"], header["typ"]) == ("EdDSA", "at+jwt")
    assert claims["aud"] == ["cms"]
    assert (claims["sub"], claims["client_id"], claims["scope"], claims["iss"]) == (client_id, client_id, "internal", settings.issuer)
    assert claims["exp"] - claims["iat"] == 300
    assert "sid" not in claims


async def test_json_request_with_credentials_in_the_body_works(client, service_client):
    client_id, secret = service_client

    response = await client.post(URL, json={"grant_type": "client_credentials", "audience": "cms", "client_id": client_id, "client_secret": secret})

    assert response.status_code == 200


async def test_wrong_secret_and_unknown_client_are_the_same_401(client, service_client):
    client_id, _ = service_client

    wrong = await client.post(URL, data={"grant_type": "client_credentials", "audience": "cms"}, headers=basic(client_id, "x" * 40))
    unknown = await client.post(URL, data={"grant_type": "client_credentials", "audience": "cms"}, headers=basic("nobody", "x" * 40))

    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "Client authentication failed.", "code": "invalid_client"}
    assert wrong.headers["www-authenticate"].startswith("Basic")


async def test_an_audience_the_client_may_not_call_is_refused(client, service_client):
    response = await client.post(URL, data={"grant_type": "client_credentials", "audience": "identify-gateway"}, headers=basic(*service_client))

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_target"


async def test_other_grant_types_are_refused(client, service_client):
    response = await client.post(URL, data={"grant_type": "password", "audience": "cms"}, headers=basic(*service_client))

    assert response.status_code == 400
    assert response.json()["code"] == "unsupported_grant_type"


async def test_malformed_requests_get_clear_4xx(client, service_client):
    no_grant = await client.post(URL, data={"audience": "cms"}, headers=basic(*service_client))
    bad_json = await client.post(URL, content=b"{not json", headers={"Content-Type": "application/json"})
    bad_basic = await client.post(URL, data={"grant_type": "client_credentials"}, headers={"Authorization": "Basic !!!"})
    text = await client.post(URL, content=b"grant_type=client_credentials", headers={"Content-Type": "text/plain"})

    assert (no_grant.status_code, no_grant.json()["code"]) == (400, "invalid_request")
    assert (bad_json.status_code, bad_json.json()["code"]) == (400, "invalid_request")
    assert (bad_basic.status_code, bad_basic.json()["code"]) == (401, "invalid_client")
    assert text.status_code == 415


async def test_the_endpoint_is_documented_with_both_body_types(client):
    operation = (await client.get("/api/v1/auth/openapi.json")).json()["paths"]["/api/v1/auth/token"]["post"]

    assert set(operation["requestBody"]["content"]) == {"application/x-www-form-urlencoded", "application/json"}
