"""The pure steps of verification, shared by the async and the sync verifiers (no I/O here)."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import time
from typing import Any, Mapping, Sequence

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from jwt import PyJWK

from plant_shared.tokens.claims import (
    _KID,
    _MALFORMED,
    _MAX_ID_LENGTH,
    ACCEPTED_TYPES,
    ALGORITHM,
    MAX_TOKEN_LENGTH,
    REQUIRED_CLAIMS,
    TOKEN_EXPIRED,
    TOKEN_REVOKED,
    Claims,
    TokenError,
    _invalid,
)

log = logging.getLogger("plant_shared.tokens")

_B64URL = re.compile(r"[A-Za-z0-9_-]{2,1024}")  # a header segment: base64url without padding, bounded


def extract_bearer(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header value (scheme case-insensitive).

    Args:
        authorization: the header value, or None when the header is absent.

    Returns:
        The token; None when the header is absent, blank or uses another scheme.

    Raises:
        TokenError: a Bearer value without exactly one token, or longer than `MAX_TOKEN_LENGTH`.
    """
    if authorization is None:
        return None
    if len(authorization) > MAX_TOKEN_LENGTH + 64:
        raise _invalid("The access token is too large.")
    parts = authorization.split()
    if not parts or parts[0].lower() != "bearer":
        return None
    if len(parts) != 2:
        raise _invalid("The Authorization header must be `Bearer <token>` with exactly one token.")
    if len(parts[1]) > MAX_TOKEN_LENGTH:
        raise _invalid("The access token is too large.")
    return parts[1]


def check_kid(kid: object) -> str:
    """Return `kid` when it is a short `[A-Za-z0-9_-]{1,64}` string.

    Raises:
        TokenError: anything else; such a value never reaches a lookup or a fetch.
    """
    if not isinstance(kid, str) or not _KID.fullmatch(kid):
        raise _invalid("The access token's key id is missing or malformed.")
    return kid


def read_header(token: str | bytes) -> str:
    """Check the (unverified, untrusted) header of `token` and return its `kid`.

    Only decides whether the token is worth a key lookup; `decode_and_validate` validates the
    whole token again, header included, with PyJWT.

    Raises:
        TokenError: not a compact JWT (an opaque refresh token, garbage, too large); `alg` other
            than `EdDSA`; `typ` not `at+jwt`; a `crit` header; a missing or malformed `kid`.
    """
    if isinstance(token, bytes):
        try:
            token = token.decode("ascii")
        except UnicodeDecodeError:
            raise _invalid(_MALFORMED) from None
    if not isinstance(token, str) or not token:
        raise _invalid(_MALFORMED)
    if len(token) > MAX_TOKEN_LENGTH:
        raise _invalid("The access token is too large.")
    head = token.partition(".")[0]
    if token.count(".") != 2:
        raise _invalid("The token is not an access token.")
    # Only the first segment is decoded here (C-speed regex and base64); PyJWT's own header parser
    # scans every character of the whole token in Python, and `jwt.decode` does that again anyway.
    if not _B64URL.fullmatch(head) or len(head) % 4 == 1:
        raise _invalid(_MALFORMED)
    try:
        header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, TypeError, binascii.Error, RecursionError):
        raise _invalid(_MALFORMED) from None
    if not isinstance(header, dict):
        raise _invalid(_MALFORMED)
    if header.get("alg") != ALGORITHM:
        raise _invalid("The access token is signed with an algorithm this service does not accept.")
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() not in ACCEPTED_TYPES:
        raise _invalid("The token is not an access token (its type must be at+jwt).")
    if "crit" in header:
        raise _invalid("The access token uses header extensions this service does not support.")
    return check_kid(header.get("kid"))


def decode_and_validate(token: str, key: PyJWK | Ed25519PublicKey, *, issuer: str, audience: str, leeway: float = 30) -> Claims:
    """Verify the signature and the claims of `token`, whose header `read_header` accepted.

    Args:
        token: the compact JWT.
        key: the public key for the token's `kid`, already loaded (never a PEM or JWK to parse).
        issuer: the only accepted `iss`.
        audience: this service's audience; `aud` must contain it.
        leeway: seconds of clock skew tolerated on `exp`, `nbf` and `iat`.

    Raises:
        TokenError: `token_expired` when `exp` has passed, `token_invalid` for everything else.
    """
    try:
        payload = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            leeway=leeway,
            options={"require": list(REQUIRED_CLAIMS)},
        )
    except jwt.ExpiredSignatureError:
        raise TokenError(TOKEN_EXPIRED, "The access token has expired.") from None
    except jwt.ImmatureSignatureError:
        raise _invalid("The access token is not valid yet.") from None
    except jwt.InvalidAudienceError:
        raise _invalid("The access token is not meant for this service.") from None
    except jwt.InvalidIssuerError:
        raise _invalid("The access token was not issued by a trusted issuer.") from None
    except jwt.MissingRequiredClaimError as exc:
        claim = exc.claim if exc.claim in REQUIRED_CLAIMS else "a required"  # our name, never the token's
        raise _invalid(f"The access token lacks the `{claim}` claim.") from None
    except jwt.InvalidSignatureError:
        raise _invalid("The access token's signature is invalid.") from None
    except jwt.InvalidAlgorithmError:
        raise _invalid("The access token is signed with an algorithm this service does not accept.") from None
    except (jwt.PyJWTError, ValueError, TypeError, RecursionError, OverflowError):
        raise _invalid(_MALFORMED) from None
    claims = _claims_from(payload)
    if claims.iat > time.time() + leeway:  # PyJWT checks it too; this one does not depend on its options
        raise _invalid("The access token is not valid yet.")
    return claims


def _time(payload: Mapping[str, Any], name: str) -> int:
    value = payload[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _invalid(_MALFORMED)
    return int(value)


def _ident(payload: Mapping[str, Any], name: str, *, required: bool) -> str | None:
    value = payload.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= _MAX_ID_LENGTH:
        raise _invalid(_MALFORMED)
    return value


def _claims_from(payload: dict[str, Any]) -> Claims:
    roles = payload.get("roles", [])
    tier = payload.get("tier")
    scope = payload.get("scope", "")
    aud = payload["aud"]
    if (
        not isinstance(roles, list)
        or not all(isinstance(r, str) for r in roles)
        or not (tier is None or isinstance(tier, str))
        or not isinstance(scope, str)
    ):
        raise _invalid(_MALFORMED)
    return Claims(
        sub=_ident(payload, "sub", required=True),  # type: ignore[arg-type]
        jti=_ident(payload, "jti", required=True),  # type: ignore[arg-type]
        sid=_ident(payload, "sid", required=False),
        roles=tuple(roles),
        tier=tier,
        scope=scope,
        aud=(aud,) if isinstance(aud, str) else tuple(aud),
        iat=_time(payload, "iat"),
        exp=_time(payload, "exp"),
        client_id=_ident(payload, "client_id", required=False),
        raw=payload,
    )


def denylist_keys(claims: Claims) -> list[str]:
    """The deny-list keys for one `MGET`: `deny:jti:`, `deny:sid:` (user tokens only), `deny:sub:`."""
    keys = [f"deny:jti:{claims.jti}"]
    if claims.sid is not None:
        keys.append(f"deny:sid:{claims.sid}")
    keys.append(f"deny:sub:{claims.sub}")
    return keys


def check_denylist(claims: Claims, values: Sequence[bytes | str | None]) -> None:
    """Judge the `MGET` reply for `denylist_keys(claims)` (same order).

    Raises:
        TokenError: `token_revoked` when the `jti` or `sid` key exists, or when `deny:sub` holds a
            Unix time at or after the token's `iat` (an unreadable value counts as revoked).
    """
    *exact, sub_value = values
    if any(value is not None for value in exact):
        raise TokenError(TOKEN_REVOKED, "The access token has been revoked.")
    if sub_value is not None:
        try:
            cutoff = float(sub_value)
        except (TypeError, ValueError):
            log.warning("unreadable deny:sub value; treating the token as revoked")
            cutoff = float("inf")
        if claims.iat <= cutoff:
            raise TokenError(TOKEN_REVOKED, "The access token has been revoked.")
