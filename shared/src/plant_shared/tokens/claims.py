"""What a verified token is (`Claims`), how a refusal looks (`TokenError`), and the fixed limits."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

ALGORITHM = "EdDSA"  # the only one accepted: one family, never mixed with HS* (algorithm confusion)
ACCEPTED_TYPES = frozenset({"at+jwt", "application/at+jwt"})  # RFC 9068; media types are case-insensitive
REQUIRED_CLAIMS = ("exp", "iat", "iss", "aud", "sub", "jti")
MAX_TOKEN_LENGTH = 8192
MAX_JWKS_BYTES = 64 * 1024
MAX_KEYS = 16
MAX_LEEWAY = 60
_KID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # used with fullmatch: no path, SQL or control characters
_MAX_ID_LENGTH = 255  # sub, jti, sid, client_id: they become Redis key suffixes

# Codes (the `code` of the error envelope).
TOKEN_INVALID = "token_invalid"
TOKEN_EXPIRED = "token_expired"
TOKEN_REVOKED = "token_revoked"
AUTH_UNAVAILABLE = "auth_unavailable"


class TokenError(Exception):
    """A token was refused, or could not be checked.

    Attributes:
        code: `token_invalid`, `token_expired`, `token_revoked` (401) or `auth_unavailable` (503:
            the keys or the deny-list could not be reached, so the token could not be judged).
        detail: a sentence safe to return to the client; it never contains token contents.
        status: the HTTP status adapters answer with.
    """

    def __init__(self, code: str, detail: str, *, status: int = 401) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.status = status


def _invalid(detail: str) -> TokenError:
    return TokenError(TOKEN_INVALID, detail)


def _unavailable(detail: str) -> TokenError:
    return TokenError(AUTH_UNAVAILABLE, detail, status=503)


_MALFORMED = "The access token is malformed."


@dataclass(frozen=True, slots=True)
class Claims:
    """The verified claims of an access token (user or service)."""

    sub: str
    jti: str
    sid: str | None
    roles: tuple[str, ...]
    tier: str | None
    scope: str
    aud: tuple[str, ...]
    iat: int
    exp: int
    client_id: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(self.scope.split())

    @property
    def is_service(self) -> bool:
        """A client-credentials token (scope `internal`): `sub` is a client id, not a user."""
        return "internal" in self.scopes

    def has_role(self, *roles: str) -> bool:
        """True when the token carries at least one of `roles`."""
        return any(role in self.roles for role in roles)

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes
