"""`GET /.well-known/jwks.json`: the live public keys, verifiable against issued tokens."""

from __future__ import annotations

import jwt


async def test_jwks_publishes_the_signing_key_per_the_contract(client):
    response = await client.get("/.well-known/jwks.json")

    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=300"
    keys = response.json()["keys"]
    assert keys
    for key in keys:
        assert set(key) == {"kty", "crv", "x", "kid", "use", "alg"}
        assert (key["kty"], key["crv"], key["use"], key["alg"]) == ("OKP", "Ed25519", "sig", "EdDSA")
        assert "d" not in key  # never the private part


async def test_a_token_verifies_with_the_published_key_of_its_kid(client, make_user, log_in, settings):
    # Given a token and the JWKS, as another service would fetch them
    token = (await log_in(client, await make_user()))["access_token"]
    jwks = jwt.PyJWKSet.from_dict((await client.get("/.well-known/jwks.json")).json())

    # When it is verified with the key named by its kid
    key = next(k for k in jwks.keys if k.key_id == jwt.get_unverified_header(token)["kid"])
    claims = jwt.decode(token, key=key, algorithms=["EdDSA"], audience="identify-gateway", issuer=settings.issuer)

    # Then it is valid at another service's audience too
    assert claims["scope"] == "user"


async def test_jwks_is_in_the_openapi_document(client):
    paths = (await client.get("/api/v1/auth/openapi.json")).json()["paths"]

    assert "/.well-known/jwks.json" in paths
