"""Sign-ins as the routes see them: open one (a token pair), refresh it, end one or all of them.

Ties the refresh-token families (PostgreSQL), the signer (key ring) and the deny-list (Redis).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from plant_shared.errors import ApiError
from plant_shared.tokens import Claims
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service import refresh_tokens
from auth_service.config import Settings
from auth_service.denylist import DenyList
from auth_service.keyring import KeyRing
from auth_service.models import User
from auth_service.refresh_tokens import Client, Grant, RefreshRejected
from auth_service.tokens_issue import IssuedToken, issue_access_token

_REJECTIONS = {
    "unknown": ("The refresh token is invalid.", "invalid_refresh_token"),
    "expired": ("The refresh token has expired. Sign in again.", "invalid_refresh_token"),
    "revoked": ("This session has ended. Sign in again.", "invalid_refresh_token"),
    "superseded": ("This refresh token was rotated by a concurrent request; use the newest one.", "refresh_token_superseded"),
    "reused": ("This refresh token was already used, so the session has been revoked. Sign in again.", "refresh_token_reused"),
}


@dataclass(frozen=True)
class TokenPair:
    access: IssuedToken
    refresh: Grant


class TokenService:
    def __init__(self, *, settings: Settings, keyring: KeyRing, denylist: DenyList) -> None:
        self._settings = settings
        self._keyring = keyring
        self._denylist = denylist
        self._refresh_ttl = timedelta(seconds=settings.refresh_token_ttl_seconds)
        self._grace = timedelta(seconds=settings.refresh_reuse_grace_seconds)

    async def _access_token(self, user: User, sid: uuid.UUID) -> IssuedToken:
        return issue_access_token(
            self._keyring.signer,
            issuer=self._settings.issuer,
            user=user,
            sid=sid,
            ttl_seconds=self._settings.access_token_ttl_seconds,
            now=await self._denylist.issue_time(str(user.id)),
        )

    async def open(self, session: AsyncSession, user: User, *, client: Client) -> TokenPair:
        """A new sign-in: a family, its first refresh token and an access token. Commits."""
        self._keyring.ensure_loaded()  # no signing key: fail (503) before writing anything
        grant = await refresh_tokens.start_family(session, user, client=client, now=datetime.now(UTC), ttl=self._refresh_ttl)
        access = await self._access_token(user, grant.family_id)
        await session.commit()
        return TokenPair(access=access, refresh=grant)

    async def refresh(self, session: AsyncSession, value: str) -> TokenPair:
        """Rotate a refresh token and issue a new access token. Commits.

        Raises:
            ApiError: 401 when the token cannot be used; on reuse the family is revoked and its
                access tokens deny-listed first.
        """
        self._keyring.ensure_loaded()  # no signing key: fail (503) before the token rotates
        try:
            grant = await refresh_tokens.rotate(session, value, now=datetime.now(UTC), ttl=self._refresh_ttl, reuse_grace=self._grace)
        except RefreshRejected as rejected:
            if rejected.reason == "reused" and rejected.family_id is not None:
                await self._denylist.deny_family(str(rejected.family_id))
            detail, code = _REJECTIONS[rejected.reason]
            raise ApiError(401, detail, code) from None
        access = await self._access_token(grant.user, grant.family_id)
        await session.commit()  # only now is the presented token used up
        return TokenPair(access=access, refresh=grant)

    async def end(self, session: AsyncSession, claims: Claims) -> None:
        """Log out: deny-list the presented token and its family, and revoke the family."""
        await self._denylist.deny_token(claims.jti, expires_at=claims.exp)
        sid = claims.sid
        if sid is not None:
            await self._denylist.deny_family(sid)
            await refresh_tokens.revoke_family(session, uuid.UUID(sid), user_id=uuid.UUID(claims.sub), reason="logout", now=datetime.now(UTC))

    async def end_all(self, session: AsyncSession, user_id: uuid.UUID, *, reason: str) -> None:
        """Log out everywhere: revoke every family and deny-list every token issued until now. Commits."""
        await refresh_tokens.revoke_all_families(session, user_id, reason=reason, now=datetime.now(UTC))
        await self._denylist.deny_subject(str(user_id))
        await session.commit()

    async def end_access_tokens(self, user_id: uuid.UUID) -> None:
        """Deny-list the user's current access tokens only (claims changed); refresh tokens stay, so
        clients pick up the new roles or tier at their next refresh."""
        await self._denylist.deny_subject(str(user_id))
