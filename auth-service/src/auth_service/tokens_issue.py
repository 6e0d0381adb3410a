"""Signing access tokens (users) and service tokens (client credentials), per the token contract."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import jwt

from auth_service.keyring import Signer
from auth_service.models import User
from auth_service.token_contract import ALGORITHM, SERVICE_SCOPE, TOKEN_TYPE, USER_AUDIENCES, USER_SCOPE


@dataclass(frozen=True)
class IssuedToken:
    token: str
    jti: str
    issued_at: int
    expires_at: int

    @property
    def expires_in(self) -> int:
        return self.expires_at - self.issued_at


def _sign(signer: Signer, claims: dict[str, Any]) -> str:
    # `signer.key` is a loaded key object: PyJWT signs with it directly, no PEM parsing.
    return jwt.encode(claims, signer.key, algorithm=ALGORITHM, headers={"kid": signer.kid, "typ": TOKEN_TYPE})


def issue_access_token(signer: Signer, *, issuer: str, user: User, sid: uuid.UUID, ttl_seconds: int, now: int) -> IssuedToken:
    """A user's access token, good at every service (`aud` lists them all).

    Args:
        now: the `iat`, in Unix seconds. Callers pass a value later than the user's `deny:sub`
            cut-off, so a token issued in the same second as a "log out everywhere" survives it.
    """
    jti = str(uuid.uuid4())
    claims = {
        "iss": issuer,
        "aud": list(USER_AUDIENCES),
        "sub": str(user.id),
        "iat": now,
        "nbf": now,
        "exp": now + ttl_seconds,
        "jti": jti,
        "sid": str(sid),
        "roles": [user.role.value],
        "tier": user.tier.value,
        "scope": USER_SCOPE,
    }
    return IssuedToken(token=_sign(signer, claims), jti=jti, issued_at=now, expires_at=now + ttl_seconds)


def issue_service_token(signer: Signer, *, issuer: str, client_id: str, audience: str, ttl_seconds: int, now: int) -> IssuedToken:
    """A client-credentials token: `sub` and `client_id` are the caller, `aud` is the one callee."""
    jti = str(uuid.uuid4())
    claims = {
        "iss": issuer,
        "aud": [audience],
        "sub": client_id,
        "client_id": client_id,
        "iat": now,
        "nbf": now,
        "exp": now + ttl_seconds,
        "jti": jti,
        "roles": [],
        "scope": SERVICE_SCOPE,
    }
    return IssuedToken(token=_sign(signer, claims), jti=jti, issued_at=now, expires_at=now + ttl_seconds)
