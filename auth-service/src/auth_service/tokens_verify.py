"""Verifying access tokens at the auth service's own endpoints (me, logout, admin).

A local verifier that follows the token contract; it will give way to the shared one
(`plant_shared.tokens`), so it lives in this one module. It reads keys from the process's
`KeyRing` (the keys this service signs with), not from the JWKS over HTTP.
"""

from __future__ import annotations

import re
from typing import Any

import jwt
from plant_shared.errors import ApiError
from redis.asyncio import Redis

from auth_service.keyring import KeyRing
from auth_service.token_contract import (
    ALGORITHM,
    LEEWAY_SECONDS,
    OWN_AUDIENCE,
    TOKEN_TYPE,
    deny_jti_key,
    deny_sid_key,
    deny_sub_key,
)

REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub", "jti"]
# Ours are Ed25519 tokens of a few hundred bytes; anything far larger is not one of ours.
MAX_TOKEN_LENGTH = 4096
# A kid is an RFC 7638 SHA-256 thumbprint: 43 base64url characters. Anything else (paths,
# quotes, SQL) is refused before it is used as a lookup key.
_KID = re.compile(r"^[A-Za-z0-9_-]{43}$")
_TYPES = {TOKEN_TYPE, f"application/{TOKEN_TYPE}"}

Claims = dict[str, Any]


# The codes the shared verifier (`plant_shared.tokens`) answers with, so clients see one vocabulary.
TOKEN_INVALID = "token_invalid"
TOKEN_EXPIRED = "token_expired"
TOKEN_REVOKED = "token_revoked"


def invalid(detail: str = "The access token is invalid.", code: str = TOKEN_INVALID) -> ApiError:
    return ApiError(401, detail, code, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


class AccessTokenVerifier:
    """Check an access token's signature, header, claims and deny-list entries.

    Args:
        keyring: the process's keys; an unknown `kid` triggers one refresh per cool-down.
        denylist: the deny-list Redis; one `MGET` of the `jti`, `sid` and `sub` keys per token.
        issuer: the expected `iss`.
        audience: the audience this service answers to (`auth-service`).
    """

    def __init__(self, *, keyring: KeyRing, denylist: Redis, issuer: str, audience: str = OWN_AUDIENCE) -> None:
        self._keyring = keyring
        self._denylist = denylist
        self._issuer = issuer
        self._audience = audience

    async def verify(self, token: str) -> Claims:
        """Return the claims of a valid, unrevoked token.

        Raises:
            ApiError: 401 `token_invalid`, `token_expired` or `token_revoked` otherwise.
            redis.RedisError: the deny-list cannot be read (answered 503: we fail closed).
        """
        if len(token) > MAX_TOKEN_LENGTH:
            raise invalid()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise invalid() from None
        # Algorithm from our allowlist, never from the header (RFC 8725 §3.1); explicit type (§3.11).
        if header.get("alg") != ALGORITHM or header.get("typ") not in _TYPES:
            raise invalid()
        kid = header.get("kid")
        if not isinstance(kid, str) or not _KID.match(kid):
            raise invalid()
        key = self._keyring.public_key(kid)
        if key is None and await self._keyring.refresh_for_unknown_kid():
            key = self._keyring.public_key(kid)
        if key is None:
            raise invalid()
        claims = self._decode(token, key)
        await self._check_denylist(claims)
        return claims

    def _decode(self, token: str, key: Any) -> Claims:
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError:
            raise invalid("The access token has expired.", TOKEN_EXPIRED) from None
        except jwt.ImmatureSignatureError:
            raise invalid("The access token is not valid yet.") from None
        except jwt.PyJWTError:
            raise invalid() from None
        if not isinstance(claims.get("jti"), str) or not isinstance(claims.get("sub"), str):
            raise invalid()
        return claims

    async def _check_denylist(self, claims: Claims) -> None:
        keys = [deny_jti_key(claims["jti"]), deny_sub_key(claims["sub"])]
        sid = claims.get("sid")
        if isinstance(sid, str):
            keys.append(deny_sid_key(sid))
        jti_entry, sub_entry, *sid_entry = await self._denylist.mget(keys)
        revoked = jti_entry is not None or any(entry is not None for entry in sid_entry)
        if sub_entry is not None:
            try:
                revoked = revoked or int(claims["iat"]) <= int(sub_entry)
            except (TypeError, ValueError):
                revoked = True  # an entry we cannot read is still a revocation: refuse
        if revoked:
            raise invalid("The access token has been revoked.", TOKEN_REVOKED)
