"""Password-reset tokens: single use, short-lived, stored as SHA-256."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.models import PasswordResetToken, User
from auth_service.refresh_tokens import hash_token

MAX_TOKEN_LENGTH = 256


async def create_reset_token(session: AsyncSession, user_id: uuid.UUID, *, now: datetime, ttl: timedelta) -> str:
    """A new token for the user (earlier ones stay valid until used or expired). Commits.

    Returns:
        The token value: it exists only in the mail from here on.
    """
    value = secrets.token_urlsafe(32)
    session.add(PasswordResetToken(user_id=user_id, token_hash=hash_token(value), created_at=now, expires_at=now + ttl))
    await session.commit()
    return value


async def consume_reset_token(session: AsyncSession, value: str, *, now: datetime) -> User | None:
    """Use a token: the user it belongs to when it is unused and unexpired, else None.

    Locks the token's row, marks it and every other open token of the user used. Does not commit:
    the caller sets the new password in the same transaction.
    """
    if len(value) > MAX_TOKEN_LENGTH:
        return None
    row = await session.scalar(select(PasswordResetToken).where(PasswordResetToken.token_hash == hash_token(value)).with_for_update())
    if row is None or row.used_at is not None or row.expires_at <= now:
        return None
    await session.execute(
        update(PasswordResetToken).where(PasswordResetToken.user_id == row.user_id, PasswordResetToken.used_at.is_(None)).values(used_at=now)
    )
    return await session.get(User, row.user_id, with_for_update=True)
