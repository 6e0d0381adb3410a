"""The issue-3 attack list, through the edge, against every service that verifies platform tokens.

Each forged token must get 401 with the JSON envelope (never 500), while the genuine token gets
200 on the same endpoint: the control proves each test can fail.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest

# One owner-only read per service (all through the one origin).
PROTECTED = {
    "auth-service": "/api/v1/auth/me",
    "identify-gateway": "/api/v1/plant-identification/history/",
    "cms": "/api/v1/garden/plants/",
}


def _get(edge: httpx.Client, path: str, token: str) -> httpx.Response:
    return edge.get(path, headers={"Authorization": f"Bearer {token}"})


def _refused(response: httpx.Response) -> None:
    assert response.status_code == 401, (response.status_code, response.text[:300])
    body = response.json()
    assert set(body) >= {"detail", "code"} and isinstance(body["detail"], str) and body["detail"]


@pytest.mark.parametrize("service", sorted(PROTECTED))
def test_the_genuine_token_is_accepted(edge: httpx.Client, member_session: dict[str, Any], service: str) -> None:
    assert _get(edge, PROTECTED[service], member_session["access_token"]).status_code == 200


def _attacks(forge: Callable[..., str], unsigned: Callable[..., str], claims: dict[str, Any], public_jwk: dict[str, Any], refresh_token: str, genuine: str) -> dict[str, str]:
    now = int(time.time())
    header, payload, signature = genuine.split(".")
    tampered_claims = {**claims, "roles": ["admin"], "sub": "00000000-0000-4000-8000-000000000000"}
    tampered = f"{header}.{base64.urlsafe_b64encode(json.dumps(tampered_claims).encode()).rstrip(b'=').decode()}.{signature}"
    public_raw = base64.urlsafe_b64decode(public_jwk["x"] + "==")
    return {
        "alg none": unsigned({"alg": "none", "typ": "at+jwt", "kid": public_jwk["kid"]}, claims),
        "alg None (case)": unsigned({"alg": "None", "typ": "at+jwt", "kid": public_jwk["kid"]}, claims),
        "HS256 signed with the public key": jwt.api_jws.PyJWS().encode(
            json.dumps(claims).encode(), public_raw, algorithm="HS256", headers={"kid": public_jwk["kid"], "typ": "at+jwt"}
        ),
        "expired": forge(iat=now - 7200, nbf=now - 7200, exp=now - 3600),
        "not yet valid (nbf)": forge(nbf=now + 3600),
        "issued in the future (iat)": forge(iat=now + 3600, nbf=now),
        "wrong iss": forge(iss="https://evil.example"),
        "wrong aud": forge(aud=["somebody-else"]),
        "unknown kid": forge(headers={"kid": "A" * 43}),
        "kid with a path": forge(headers={"kid": "../../../../etc/passwd"}),
        "kid with SQL": forge(headers={"kid": "x' OR '1'='1"}),
        "typ JWT": forge(headers={"typ": "JWT"}),
        "missing sub": forge(drop=("sub",)),
        "missing jti": forge(drop=("jti",)),
        "missing exp": forge(drop=("exp",)),
        "tampered payload": tampered,
        "truncated": genuine[: len(genuine) // 2],
        "signature cut": f"{header}.{payload}.",
        "garbage": "not-a-token",
        "refresh token as access token": refresh_token,
    }


@pytest.fixture(scope="module")
def attacks(edge_url: str, forge, unsigned, member_claims, member_session) -> dict[str, str]:
    jwks = httpx.get(edge_url + "/.well-known/jwks.json", timeout=10).json()["keys"]
    return _attacks(forge, unsigned, member_claims, jwks[0], member_session["refresh_token"], member_session["access_token"])


ATTACK_NAMES = [
    "alg none", "alg None (case)", "HS256 signed with the public key", "expired", "not yet valid (nbf)",
    "issued in the future (iat)", "wrong iss", "wrong aud", "unknown kid", "kid with a path", "kid with SQL",
    "typ JWT", "missing sub", "missing jti", "missing exp", "tampered payload", "truncated", "signature cut",
    "garbage", "refresh token as access token",
]


@pytest.mark.parametrize("attack", ATTACK_NAMES)
@pytest.mark.parametrize("service", sorted(PROTECTED))
def test_a_forged_token_is_refused_with_401(edge: httpx.Client, attacks: dict[str, str], service: str, attack: str) -> None:
    _refused(_get(edge, PROTECTED[service], attacks[attack]))


@pytest.mark.parametrize("service", sorted(PROTECTED))
def test_a_token_for_another_audience_only_is_refused(edge: httpx.Client, forge, service: str) -> None:
    others = [name for name in PROTECTED if name != service]

    _refused(_get(edge, PROTECTED[service], forge(aud=others)))


def test_replaying_a_rotated_refresh_token_revokes_the_family_everywhere(edge: httpx.Client, fresh_member: dict[str, Any]) -> None:
    # Given a sign-in whose refresh token has been rotated once
    first_refresh, access = fresh_member["refresh_token"], fresh_member["access_token"]
    rotated = edge.post("/api/v1/auth/refresh", json={"refresh_token": first_refresh})
    assert rotated.status_code == 200
    new_access = rotated.json()["access_token"]

    # When the old refresh token is replayed (a thief's copy)
    replay = edge.post("/api/v1/auth/refresh", json={"refresh_token": first_refresh})

    # Then the replay fails and every access token of that family stops working at every service
    _refused(replay)
    _refused(edge.post("/api/v1/auth/refresh", json={"refresh_token": rotated.json()["refresh_token"]}))
    for path in PROTECTED.values():
        _refused(_get(edge, path, new_access))
        _refused(_get(edge, path, access))


def test_logout_revokes_the_access_token_at_every_service(edge: httpx.Client, fresh_member: dict[str, Any]) -> None:
    access = fresh_member["access_token"]
    for path in PROTECTED.values():
        assert _get(edge, path, access).status_code == 200

    assert edge.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {access}"}).status_code == 204

    for path in PROTECTED.values():
        _refused(_get(edge, path, access))

