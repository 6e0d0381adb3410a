"""The attack list of the auth issue, against the async verifier (JWKS via MockTransport, real Redis)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from plant_shared.tokens import (
    REQUIRED_CLAIMS,
    Claims,
    TokenError,
    TokenVerifier,
    decode_and_validate,
    read_header,
)


async def refused(verifier: TokenVerifier, token: str, code: str = "token_invalid") -> TokenError:
    with pytest.raises(TokenError) as caught:
        await verifier.verify(token)
    assert caught.value.code == code
    assert caught.value.status == 401
    return caught.value


def _split(token: str) -> tuple[dict, dict, str]:
    header, payload, signature = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return json.loads(base64.urlsafe_b64decode(pad(header))), json.loads(base64.urlsafe_b64decode(pad(payload))), signature


async def test_a_valid_user_token_gives_its_claims(key, verifier) -> None:
    token = key.mint(roles=["member", "editor"], tier="pro")

    claims = await verifier.verify(token)

    assert isinstance(claims, Claims)
    assert claims.roles == ("member", "editor") and claims.tier == "pro" and claims.scope == "user"
    assert claims.aud == ("auth-service", "identify-gateway", "cms")
    assert claims.has_role("editor") and not claims.has_role("admin") and not claims.is_service
    assert claims.sid is not None and claims.client_id is None


async def test_a_service_token_gives_service_claims(key, verifier) -> None:
    claims = await verifier.verify(key.service_token())

    assert claims.is_service and claims.has_scope("internal")
    assert claims.sid is None and claims.client_id == "svc-cms" and claims.roles == ()


async def test_alg_none_is_refused(key, verifier, kit) -> None:
    token = kit.unsigned({"alg": "none", "typ": "at+jwt", "kid": key.kid}, key.claims())

    error = await refused(verifier, token)

    assert "algorithm" in error.detail


@pytest.mark.parametrize("secret_form", ["pem", "raw", "jwk_json", "x"])
async def test_hs256_signed_with_the_public_key_is_refused(key, verifier, kit, secret_form) -> None:
    # Given: an attacker signs with HMAC using the public key itself as the secret (algorithm confusion)
    secrets_by_form = {
        "pem": key.public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        "raw": key.public.public_bytes_raw(),
        "jwk_json": json.dumps(key.jwk).encode(),
        "x": key.jwk["x"].encode(),
    }
    header = kit.b64url(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": key.kid}).encode())
    payload = kit.b64url(json.dumps(key.claims()).encode())
    signature = hmac.new(secrets_by_form[secret_form], f"{header}.{payload}".encode(), hashlib.sha256).digest()

    await refused(verifier, f"{header}.{payload}.{kit.b64url(signature)}")


async def test_an_hmac_signature_under_an_eddsa_header_is_refused(key, verifier, kit) -> None:
    header = kit.b64url(json.dumps({"alg": "EdDSA", "typ": "at+jwt", "kid": key.kid}).encode())
    payload = kit.b64url(json.dumps(key.claims()).encode())
    signature = hmac.new(key.public.public_bytes_raw(), f"{header}.{payload}".encode(), hashlib.sha256).digest()

    error = await refused(verifier, f"{header}.{payload}.{kit.b64url(signature)}")

    assert "signature" in error.detail


@pytest.mark.parametrize("algorithm", ["RS256", "ES256", "PS256"])
async def test_an_rsa_or_ecdsa_token_carrying_a_known_kid_is_refused(key, verifier, algorithm) -> None:
    other = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048) if algorithm != "ES256" else ec.generate_private_key(ec.SECP256R1())
    )
    token = jwt.encode(key.claims(), other, algorithm=algorithm, headers={"kid": key.kid, "typ": "at+jwt"})

    await refused(verifier, token)


def test_decode_alone_refuses_another_algorithm_even_with_our_key(key) -> None:
    # Defence in depth: even past the header check, the key object accepts EdDSA only.
    from jwt import PyJWK

    other = ec.generate_private_key(ec.SECP256R1())
    token = jwt.encode(key.claims(), other, algorithm="ES256", headers={"kid": key.kid, "typ": "at+jwt"})

    with pytest.raises(TokenError) as caught:
        decode_and_validate(token, PyJWK(key.jwk), issuer="plant-community-auth", audience="identify-gateway")
    assert caught.value.code == "token_invalid"


async def test_an_expired_token_is_refused_as_expired(key, verifier) -> None:
    now = int(time.time())
    token = key.mint(iat=now - 7200, nbf=now - 7200, exp=now - 3600)

    error = await refused(verifier, token, "token_expired")

    assert error.detail == "The access token has expired."


async def test_a_token_expired_within_the_leeway_still_passes(key, verifier) -> None:
    now = int(time.time())

    claims = await verifier.verify(key.mint(iat=now - 3600, exp=now - 10))

    assert claims.exp == now - 10


@pytest.mark.parametrize("claim", ["nbf", "iat"])
async def test_a_token_not_yet_valid_is_refused(key, verifier, claim) -> None:
    token = key.mint(**{claim: int(time.time()) + 600})

    error = await refused(verifier, token)

    assert "not valid yet" in error.detail


async def test_iat_in_the_future_within_the_leeway_passes(key, verifier) -> None:
    now = int(time.time())

    claims = await verifier.verify(key.mint(iat=now + 10, nbf=now + 10))

    assert claims.iat == now + 10


async def test_a_wrong_issuer_is_refused(key, verifier) -> None:
    error = await refused(verifier, key.mint(iss="https://evil.example"))

    assert "issuer" in error.detail and "evil" not in error.detail


@pytest.mark.parametrize("audience", [["auth-service", "cms"], "cms", []])
async def test_a_token_for_another_audience_is_refused(key, verifier, audience) -> None:
    await refused(verifier, key.mint(aud=audience))


async def test_a_tampered_payload_is_refused(key, verifier, kit) -> None:
    token = key.mint()
    header, payload, signature = token.split(".")
    claims = _split(token)[1] | {"roles": ["admin"]}
    forged = f"{header}.{kit.b64url(json.dumps(claims).encode())}.{signature}"

    error = await refused(verifier, forged)

    assert "signature" in error.detail


async def test_a_tampered_header_is_refused(key, verifier, kit) -> None:
    token = key.mint()
    _, payload, signature = token.split(".")
    header = kit.b64url(json.dumps({"alg": "EdDSA", "typ": "at+jwt", "kid": key.kid, "x": 1}).encode())

    await refused(verifier, f"{header}.{payload}.{signature}")


@pytest.mark.parametrize("cut", ["last_char", "signature", "half", "two_segments", "one_segment"])
async def test_a_truncated_token_is_refused(key, verifier, cut) -> None:
    token = key.mint()
    truncated = {
        "last_char": token[:-1],
        "signature": token[: token.rindex(".") + 1],
        "half": token[: len(token) // 2],
        "two_segments": token.rsplit(".", 1)[0],
        "one_segment": token.split(".")[0],
    }[cut]

    await refused(verifier, truncated)


@pytest.mark.parametrize(
    "garbage",
    ["", " ", ".", "..", "a.b.c", "e30.e30.", "null.null.null", "Zm9v.YmFy.YmF6", "\x00\x01.\x02.\x03", "é.é.é", "\udc80.a.b", "x" * 10240],
)
async def test_garbage_is_refused_without_a_crash(verifier, jwks, garbage) -> None:
    error = await refused(verifier, garbage)

    assert len(garbage) < 4 or garbage not in error.detail
    assert jwks.requests == 0  # nothing reached the JWKS


async def test_a_10kb_token_is_refused_as_too_large(key, verifier) -> None:
    token = key.mint(padding="x" * 10240)

    error = await refused(verifier, token)

    assert "too large" in error.detail


async def test_an_opaque_refresh_token_is_not_an_access_token(verifier, jwks) -> None:
    refresh_token = secrets.token_urlsafe(48)

    error = await refused(verifier, refresh_token)

    assert refresh_token not in error.detail
    assert jwks.requests == 0


@pytest.mark.parametrize("claim", REQUIRED_CLAIMS)
async def test_a_token_missing_a_required_claim_is_refused(key, verifier, claim) -> None:
    token = key.mint(**{claim: None})

    error = await refused(verifier, token)

    assert f"`{claim}`" in error.detail


@pytest.mark.parametrize("typ", [None, "JWT", "jwt", "at+jwt2", "application/jwt", 1])
async def test_a_token_without_the_access_token_type_is_refused(key, verifier, typ) -> None:
    token = key.mint(headers={"typ": typ})

    error = await refused(verifier, token)

    assert "at+jwt" in error.detail


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt", "Application/AT+JWT"])
async def test_the_access_token_type_is_matched_case_insensitively(key, verifier, typ) -> None:
    claims = await verifier.verify(key.mint(headers={"typ": typ}))

    assert claims.sub


async def test_a_crit_header_is_refused(key, verifier) -> None:
    await refused(verifier, key.mint(headers={"crit": ["exp"], "exp": 1}))


@pytest.mark.parametrize(
    "overrides",
    [{"roles": "admin"}, {"roles": [1]}, {"scope": ["internal"]}, {"sub": 42}, {"jti": ""}, {"sid": 7}, {"iat": "0"}, {"tier": 3}],
)
async def test_claims_of_the_wrong_type_are_refused(key, verifier, overrides) -> None:
    await refused(verifier, key.mint(**overrides))


def test_read_header_returns_the_kid_and_never_trusts_a_jku(key) -> None:
    token = key.mint(headers={"jku": "http://evil.example/jwks.json", "x5u": "http://evil.example/x"})

    assert read_header(token) == key.kid
