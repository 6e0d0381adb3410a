"""Refresh-token families in PostgreSQL: start one, rotate on every use, detect reuse, revoke.

Only the SHA-256 of a refresh token is stored. A rotation locks the presented token's row
(`SELECT ... FOR UPDATE`, family first, then token), so of concurrent refreshes with one token
exactly one rotates it; the others find it used.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.models import RefreshToken, TokenFamily, User

Client = Literal["web", "mobile"]
# Refresh tokens are opaque random strings (never JWTs, so never mistaken for access tokens).
MAX_TOKEN_LENGTH = 256


def new_token_value() -> str:
    return secrets.token_urlsafe(48)


def hash_token(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class RefreshRejected(Exception):
    """The refresh token cannot be used.

    `reason`: `unknown`, `expired`, `revoked`, `superseded` (rotated moments ago, within the grace
    window: the family stays) or `reused` (rotated before: the family has just been revoked).
    """

    def __init__(self, reason: str, *, family_id: uuid.UUID | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.family_id = family_id


@dataclass(frozen=True)
class Grant:
    """A refresh token handed out (the value exists only here) and what it belongs to."""

    value: str
    family_id: uuid.UUID
    user: User
    expires_at: datetime


def _new_row(family_id: uuid.UUID, user_id: uuid.UUID, *, now: datetime, ttl: timedelta) -> tuple[RefreshToken, str]:
    value = new_token_value()
    row = RefreshToken(id=uuid.uuid4(), family_id=family_id, user_id=user_id, token_hash=hash_token(value), created_at=now, expires_at=now + ttl)
    return row, value


async def start_family(session: AsyncSession, user: User, *, client: Client, now: datetime, ttl: timedelta) -> Grant:
    """Open a sign-in: a new family and its first refresh token. Flushes; the caller commits once
    the access token is issued, so a failure in between leaves nothing behind."""
    family = TokenFamily(id=uuid.uuid4(), user_id=user.id, client=client, created_at=now)
    session.add(family)
    await session.flush()
    row, value = _new_row(family.id, user.id, now=now, ttl=ttl)
    session.add(row)
    await session.flush()
    return Grant(value=value, family_id=family.id, user=user, expires_at=row.expires_at)


async def rotate(session: AsyncSession, value: str, *, now: datetime, ttl: timedelta, reuse_grace: timedelta) -> Grant:
    """Exchange a refresh token for the next one of its family. Flushes, keeping the row lock; the
    caller commits once the access token is issued, so a failure in between (Redis away) leaves the
    presented token unused and the client can retry with it.

    Raises:
        RefreshRejected: see its reasons; on `reused` the family's revocation is already
            committed (the caller deny-lists its `sid`).
    """
    if len(value) > MAX_TOKEN_LENGTH:
        raise RefreshRejected("unknown")
    family_id = await session.scalar(select(RefreshToken.family_id).where(RefreshToken.token_hash == hash_token(value)))
    if family_id is None:
        raise RefreshRejected("unknown")
    # Locks in one order everywhere (family, then its tokens), so rotation and revocation never deadlock.
    family = await session.scalar(select(TokenFamily).where(TokenFamily.id == family_id).with_for_update())
    row = await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == hash_token(value)).with_for_update().execution_options(populate_existing=True)
    )
    if row is None:  # the user was deleted meanwhile
        await session.rollback()
        raise RefreshRejected("unknown")
    if family is None or family.revoked_at is not None or row.revoked_at is not None:
        await session.rollback()
        raise RefreshRejected("revoked", family_id=family_id)
    if row.used_at is not None:
        await _reject_used(session, row, family, now=now, reuse_grace=reuse_grace)
    if row.expires_at <= now:
        await session.rollback()
        raise RefreshRejected("expired", family_id=family_id)
    user = await session.get(User, row.user_id)
    if user is None or not user.is_active:
        await session.rollback()
        raise RefreshRejected("revoked", family_id=family_id)
    successor, new_value = _new_row(family.id, user.id, now=now, ttl=ttl)
    session.add(successor)
    await session.flush()
    row.used_at = now
    row.replaced_by = successor.id
    await session.flush()
    return Grant(value=new_value, family_id=family.id, user=user, expires_at=successor.expires_at)


async def _reject_used(session: AsyncSession, row: RefreshToken, family: TokenFamily, *, now: datetime, reuse_grace: timedelta) -> None:
    """A rotated token came back: within the grace window from the latest rotation, refuse it
    quietly (a concurrent refresh of the same client); otherwise it is theft: revoke the family."""
    family_id = family.id  # read before commit or rollback expire the objects
    if reuse_grace and row.used_at is not None and now - row.used_at <= reuse_grace and row.replaced_by is not None:
        successor = await session.get(RefreshToken, row.replaced_by)
        if successor is not None and successor.used_at is None:
            await session.rollback()
            raise RefreshRejected("superseded", family_id=family_id)
    await _revoke_family_rows(session, family, reason="reuse", now=now)
    await session.commit()
    raise RefreshRejected("reused", family_id=family_id)


async def _revoke_family_rows(session: AsyncSession, family: TokenFamily, *, reason: str, now: datetime) -> None:
    family.revoked_at = now
    family.revoked_reason = reason
    await session.execute(
        update(RefreshToken).where(RefreshToken.family_id == family.id, RefreshToken.revoked_at.is_(None)).values(revoked_at=now)
    )


async def revoke_family(session: AsyncSession, family_id: uuid.UUID, *, user_id: uuid.UUID, reason: str, now: datetime) -> bool:
    """Revoke one family of `user_id` (logout). Commits. False when there was none to revoke."""
    family = await session.scalar(
        select(TokenFamily).where(TokenFamily.id == family_id, TokenFamily.user_id == user_id).with_for_update()
    )
    if family is None or family.revoked_at is not None:
        await session.commit()
        return False
    await _revoke_family_rows(session, family, reason=reason, now=now)
    await session.commit()
    return True


async def revoke_all_families(session: AsyncSession, user_id: uuid.UUID, *, reason: str, now: datetime) -> list[uuid.UUID]:
    """Revoke every open family of a user (log out everywhere). Does not commit: the caller may
    have more to write in the same transaction. Returns the families revoked."""
    revoked = list(
        await session.scalars(
            update(TokenFamily)
            .where(TokenFamily.user_id == user_id, TokenFamily.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason=reason)
            .returning(TokenFamily.id)
        )
    )
    if revoked:
        await session.execute(
            update(RefreshToken).where(RefreshToken.family_id.in_(revoked), RefreshToken.revoked_at.is_(None)).values(revoked_at=now)
        )
    return revoked
