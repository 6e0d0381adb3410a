"""The attack list: every forged, stale or misused token gets 401 with the envelope, never 500."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from auth_service.signing_keys import public_jwk
from auth_service.token_contract import USER_AUDIENCES

ME = "/api/v1/auth/me"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(obj: dict) -> str:
    return b64(json.dumps(obj, separators=(",", ":")).encode())


@pytest.fixture
async def app_and_client(settings, make_app, running):
    app = make_app(settings)
    async with running(app) as client:
        yield app, client


@pytest.fixture
async def victim(app_and_client, make_user, log_in):
    """A signed-in member: their account id, token pair, and the claims of their access token."""
    _, client = app_and_client
    account = await make_user()
    tokens = await log_in(client, account)
    return account, tokens, jwt.decode(tokens["access_token"], options={"verify_signature": False})


def claims_for(victim, settings, **changes) -> dict:
    _, _, claims = victim
    now = int(time.time())
    base = {**claims, "iat": now, "nbf": now, "exp": now + 600, "jti": str(uuid.uuid4())}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def signed(app, claims: dict, **header) -> str:
    """Signed with the service's real key: only the claim or header under test is wrong."""
    signer = app.state.keyring.signer
    return jwt.encode(claims, signer.key, algorithm="EdDSA", headers={"kid": signer.kid, "typ": "at+jwt", **header})


async def assert_refused(client, token: str, code: str = "token_invalid") -> None:
    response = await client.get(ME, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, (token[:80], response.status_code, response.text)
    assert response.json() == {"detail": response.json()["detail"], "code": code}
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_the_genuine_token_is_accepted(app_and_client, victim):
    # The control: everything below differs from this in one way only.
    _, client = app_and_client
    response = await client.get(ME, headers={"Authorization": f"Bearer {victim[1]['access_token']}"})
    assert response.status_code == 200


async def test_alg_none_is_refused(app_and_client, victim, settings):
    app, client = app_and_client
    kid = app.state.keyring.signer.kid
    for alg in ("none", "None", "NONE"):
        token = f"{segment({'alg': alg, 'typ': 'at+jwt', 'kid': kid})}.{segment(claims_for(victim, settings))}."
        await assert_refused(client, token)


async def test_hs256_signed_with_the_public_key_is_refused(app_and_client, victim, settings):
    # Algorithm confusion: an HMAC "signed" with each form a verifier might hold the public key in.
    app, client = app_and_client
    public = app.state.keyring.signer.key.public_key()
    jwk = public_jwk(public)
    secrets_to_try = [
        public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw),
        json.dumps(jwk).encode(),
        jwk["x"].encode(),
    ]
    for secret in secrets_to_try:
        signing_input = f"{segment({'alg': 'HS256', 'typ': 'at+jwt', 'kid': jwk['kid']})}.{segment(claims_for(victim, settings))}"
        signature = b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())
        await assert_refused(client, f"{signing_input}.{signature}")


async def test_expired_token_is_refused_after_the_leeway(app_and_client, victim, settings):
    app, client = app_and_client
    now = int(time.time())
    await assert_refused(client, signed(app, claims_for(victim, settings, iat=now - 4000, nbf=now - 4000, exp=now - 31)), "token_expired")


async def test_token_not_yet_valid_is_refused(app_and_client, victim, settings):
    app, client = app_and_client
    later = int(time.time()) + 120
    await assert_refused(client, signed(app, claims_for(victim, settings, nbf=later)))
    await assert_refused(client, signed(app, claims_for(victim, settings, iat=later, nbf=None)))


async def test_wrong_issuer_is_refused(app_and_client, victim, settings):
    app, client = app_and_client
    await assert_refused(client, signed(app, claims_for(victim, settings, iss="https://evil.example")))


async def test_wrong_audience_is_refused(app_and_client, victim, settings):
    # A token meant for the CMS only is not good at the auth service.
    app, client = app_and_client
    await assert_refused(client, signed(app, claims_for(victim, settings, aud=["cms"])))
    await assert_refused(client, signed(app, claims_for(victim, settings, aud="somewhere-else")))


async def test_missing_required_claims_are_refused(app_and_client, victim, settings):
    app, client = app_and_client
    for claim in ("exp", "iat", "iss", "aud", "sub", "jti"):
        await assert_refused(client, signed(app, claims_for(victim, settings, **{claim: None})))


async def test_wrong_typ_is_refused(app_and_client, victim, settings):
    app, client = app_and_client
    await assert_refused(client, signed(app, claims_for(victim, settings), typ="JWT"))


async def test_unknown_kid_is_refused(app_and_client, victim, settings):
    # A well-formed kid of a key we never made (the attacker's own).
    _, client = app_and_client
    attacker = Ed25519PrivateKey.generate()
    kid = public_jwk(attacker.public_key())["kid"]
    token = jwt.encode(claims_for(victim, settings), attacker, algorithm="EdDSA", headers={"kid": kid, "typ": "at+jwt"})
    for _ in range(3):  # repeated: the cool-down keeps it to one key refresh
        await assert_refused(client, token)


@pytest.mark.parametrize(
    "kid",
    ["../../../../etc/passwd", "' OR '1'='1", "x'; DROP TABLE signing_keys; --", "/dev/null", "kid\u0000", "", 42, None, ["a"]],
)
async def test_kid_with_path_or_sql_characters_is_refused(app_and_client, victim, settings, kid):
    # Signed by hand with the real key: PyJWT itself refuses to write a non-string kid.
    app, client = app_and_client
    signing_input = f"{segment({'alg': 'EdDSA', 'typ': 'at+jwt', 'kid': kid})}.{segment(claims_for(victim, settings))}"
    token = f"{signing_input}.{b64(app.state.keyring.signer.key.sign(signing_input.encode()))}"
    await assert_refused(client, token)


async def test_signature_of_another_key_under_our_kid_is_refused(app_and_client, victim, settings):
    app, client = app_and_client
    token = jwt.encode(claims_for(victim, settings), Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": app.state.keyring.signer.kid, "typ": "at+jwt"})
    await assert_refused(client, token)


async def test_tampered_payload_is_refused(app_and_client, victim):
    # Make yourself admin by editing the payload and keeping the signature.
    _, client = app_and_client
    header, payload, signature = victim[1]["access_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["roles"] = ["admin"]
    await assert_refused(client, f"{header}.{segment(claims)}.{signature}")


@pytest.mark.parametrize("cut", [lambda t: t[:-10], lambda t: t.rsplit(".", 1)[0], lambda t: t.split(".")[0], lambda t: t[: len(t) // 2]])
async def test_truncated_token_is_refused(app_and_client, victim, cut: Callable[[str], str]):
    _, client = app_and_client
    await assert_refused(client, cut(victim[1]["access_token"]))


@pytest.mark.parametrize("garbage", ["a.b.c", "....", "Bearer", "e30.e30.e30", "\u00e9\u00e9.\u00e9\u00e9.x", "x" * 10_000])
async def test_garbage_is_refused(app_and_client, garbage):
    _, client = app_and_client
    response = await client.get(ME, headers={"Authorization": f"Bearer {garbage}".encode()})
    assert response.status_code == 401
    assert response.json()["code"] in {"token_invalid", "not_authenticated"}


async def test_refresh_token_used_as_access_token_is_refused(app_and_client, victim):
    _, client = app_and_client
    await assert_refused(client, victim[1]["refresh_token"])


async def test_replayed_refresh_token_kills_the_familys_access_token(app_and_client, victim):
    _, client = app_and_client
    _, tokens, _ = victim
    await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})

    replay = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})

    assert replay.status_code == 401 and set(replay.json()) == {"detail", "code"}
    await assert_refused(client, tokens["access_token"], "token_revoked")


async def test_within_leeway_an_expired_token_still_passes(app_and_client, victim, settings):
    # 30 s of clock skew are tolerated, per the contract.
    app, client = app_and_client
    now = int(time.time())
    token = signed(app, claims_for(victim, settings, iat=now - 700, nbf=now - 700, exp=now - 10))
    assert (await client.get(ME, headers={"Authorization": f"Bearer {token}"})).status_code == 200


def test_user_tokens_are_good_at_every_service():
    assert USER_AUDIENCES == ("auth-service", "identify-gateway", "cms")
