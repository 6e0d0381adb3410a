"""Verifying access tokens at the auth service's own endpoints (me, logout, admin).

The shared pure steps of `plant_shared.tokens` (the contract's one implementation), fed with keys
from the process's `KeyRing` (the keys this service signs with) instead of a JWKS fetched over
HTTP from itself:

1. `read_header`: shape, `alg` `EdDSA`, `typ` `at+jwt`, a well-formed `kid`;
2. the `KeyRing`'s public key for that `kid` (an unknown one re-reads the keys, once per cool-down);
3. `decode_and_validate`: signature, required claims, `iss`, the `auth-service` audience, times;
4. the deny-list: from the process's `DenylistMirror` while it is fresh (no I/O), otherwise one
   `MGET` judged by `check_denylist`.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from plant_shared.errors import ApiError
from plant_shared.fastapi_support import token_error_to_api_error
from plant_shared.tokens import (
    TOKEN_INVALID,
    TOKEN_REVOKED,
    Claims,
    DenylistMirror,
    DenylistVerdict,
    TokenError,
    check_denylist,
    decode_and_validate,
    denylist_keys,
    read_header,
)
from plant_shared.tokens.denylist import DENYLIST_FALLBACKS
from plant_shared.tokens.verifier import VERIFICATIONS
from redis.asyncio import Redis

from auth_service.keyring import KeyRing
from auth_service.token_contract import LEEWAY_SECONDS, OWN_AUDIENCE


def invalid(detail: str = "The access token is invalid.", code: str = TOKEN_INVALID) -> ApiError:
    return token_error_to_api_error(TokenError(code, detail))


class AccessTokenVerifier:
    """Check an access token's header, signature, claims and deny-list entries.

    Args:
        keyring: the process's keys; an unknown `kid` triggers one refresh per cool-down.
        denylist: the deny-list Redis, for the `MGET` while the mirror is not fresh.
        issuer: the expected `iss`.
        audience: the audience this service answers to (`auth-service`).
        mirror: the process's `DenylistMirror` (started and stopped in the lifespan), or None
            (one `MGET` per token).
    """

    def __init__(
        self, *, keyring: KeyRing, denylist: Redis, issuer: str, audience: str = OWN_AUDIENCE, mirror: DenylistMirror | None = None
    ) -> None:
        self._keyring = keyring
        self._denylist = denylist
        self._issuer = issuer
        self._audience = audience
        self._mirror = mirror

    async def verify(self, token: str) -> Claims:
        """Return the claims of a valid, unrevoked token.

        Raises:
            ApiError: 401 `token_invalid`, `token_expired` or `token_revoked` otherwise, with a
                `WWW-Authenticate: Bearer error="invalid_token"` challenge.
            redis.RedisError: the deny-list cannot be read (answered 503: we fail closed).
        """
        try:
            kid = read_header(token)
            claims = decode_and_validate(token, await self._public_key(kid), issuer=self._issuer, audience=self._audience, leeway=LEEWAY_SECONDS)
            await self._check_denylist(claims)
        except TokenError as exc:
            VERIFICATIONS.refused(exc.code)
            raise token_error_to_api_error(exc) from None
        VERIFICATIONS.ok()
        return claims

    async def _public_key(self, kid: str) -> Ed25519PublicKey:
        key = self._keyring.public_key(kid)
        if key is None and await self._keyring.refresh_for_unknown_kid():
            key = self._keyring.public_key(kid)
        if key is None:
            raise TokenError(TOKEN_INVALID, "The access token is signed with an unknown key.")
        return key

    async def _check_denylist(self, claims: Claims) -> None:
        if self._mirror is not None:
            verdict = self._mirror.check(claims)
            if verdict is DenylistVerdict.ALLOWED:
                return
            if verdict is DenylistVerdict.REVOKED:
                raise TokenError(TOKEN_REVOKED, "The access token has been revoked.")
            DENYLIST_FALLBACKS.inc()
        check_denylist(claims, await self._denylist.mget(denylist_keys(claims)))
