"""DRF authentication by platform access token (the shared verifier, audience "cms")."""

from __future__ import annotations

import time
import uuid

import pytest
from django.test import Client

PLANTS = "/api/v1/garden/plants/"
pytestmark = pytest.mark.django_db


def call(token: str | None = None, header: str | None = None):
    extra = {}
    if token is not None:
        extra["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    if header is not None:
        extra["HTTP_AUTHORIZATION"] = header
    return Client().get(PLANTS, **extra)


def test_no_token_is_401_envelope_with_a_bearer_challenge(platform):
    response = call()

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json() == {"detail": "Authentication credentials were not provided.", "code": "not_authenticated"}


def test_a_valid_member_token_is_accepted(platform):
    assert call(platform.mint()).status_code == 200


@pytest.mark.parametrize(
    "forge",
    ["wrong_aud", "wrong_iss", "expired", "not_yet_valid", "no_sub", "no_jti", "alg_none", "hs256", "unknown_kid", "kid_path",
     "tampered", "truncated", "refresh_token", "wrong_typ", "garbage"],
)
def test_forged_and_broken_tokens_are_401_never_500(platform, forge):
    key, now = platform.key, int(time.time())
    import base64
    import json

    import jwt

    def b64(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    good = platform.mint()
    tokens = {
        "wrong_aud": lambda: platform.mint(aud=["identify-gateway"]),
        "wrong_iss": lambda: platform.mint(iss="someone-else"),
        "expired": lambda: platform.mint(exp=now - 3600, iat=now - 7200, nbf=now - 7200),
        "not_yet_valid": lambda: platform.mint(nbf=now + 3600, iat=now + 3600),
        "no_sub": lambda: platform.mint(sub=None),
        "no_jti": lambda: platform.mint(jti=None),
        "alg_none": lambda: f"{b64({'alg': 'none', 'typ': 'at+jwt', 'kid': key.kid})}.{b64(platform.claims())}.",
        "hs256": lambda: jwt.encode(platform.claims(), key.jwk["x"], algorithm="HS256", headers={"kid": key.kid, "typ": "at+jwt"}),
        "unknown_kid": lambda: platform.mint(headers={"kid": "not-a-known-key-id"}),
        "kid_path": lambda: platform.mint(headers={"kid": "../../etc/passwd"}),
        "tampered": lambda: good.split(".")[0] + "." + b64({**platform.claims(), "roles": ["admin"]}) + "." + good.split(".")[2],
        "truncated": lambda: good[: len(good) // 2],
        "refresh_token": lambda: "kX3v" * 16,
        "wrong_typ": lambda: platform.mint(headers={"typ": "JWT"}),
        "garbage": lambda: "a.b.c",
    }

    response = call(tokens[forge]())

    assert response.status_code == 401, response.content
    assert response["WWW-Authenticate"].startswith("Bearer")
    body = response.json()
    assert set(body) == {"detail", "code"} and body["code"] in ("token_invalid", "token_expired")


def test_a_malformed_authorization_header_is_401(platform):
    response = call(header="Bearer one two")

    assert response.status_code == 401 and response.json()["code"] == "token_invalid"


@pytest.mark.parametrize("scope", ["jti", "sid", "sub"])
def test_a_revoked_token_is_401(platform, scope):
    claims = platform.claims()
    platform.deny(f"deny:{scope}:{claims[scope]}", time.time() + 60 if scope == "sub" else "1")

    response = call(platform.mint(claims))

    assert response.status_code == 401 and response.json()["code"] == "token_revoked"


def test_a_token_issued_after_a_subject_cut_off_passes(platform):
    claims = platform.claims()
    platform.deny(f"deny:sub:{claims['sub']}", claims["iat"] - 100)

    assert call(platform.mint(claims)).status_code == 200


def test_an_unreachable_deny_list_is_503_not_a_pass(platform, settings, dead_redis_url):
    from plant_shared.django_auth import set_verifier

    settings.PLATFORM_TOKEN_VERIFIER = {**settings.PLATFORM_TOKEN_VERIFIER, "denylist_redis_url": dead_redis_url}
    set_verifier(None)

    response = call(platform.mint())

    assert response.status_code == 503 and response.json()["code"] == "auth_unavailable"


def test_a_service_token_is_not_a_member(platform):
    response = call(platform.service_token())

    assert response.status_code == 403 and response.json()["code"] == "member_token_required"


def test_a_signed_in_editor_session_is_not_a_member(platform, client, django_user_model):
    editor = django_user_model.objects.create(username=str(uuid.uuid4()))
    client.force_login(editor)

    response = client.get(PLANTS)

    assert response.status_code == 403
