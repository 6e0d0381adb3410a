"""Creating an account from the public sign-up, race-free: one row per email, whatever the concurrency."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.models import User


async def create_account(session: AsyncSession, *, email: str, password_hash: str, display_name: str) -> uuid.UUID | None:
    """Insert the account; commits. None when the (canonical) email already has one.

    `INSERT ... ON CONFLICT DO NOTHING` on the unique email index: of concurrent sign-ups for one
    address exactly one inserts, the others see the conflict; no error, no second row.
    """
    statement = (
        insert(User)
        .values(id=uuid.uuid4(), email=email, password_hash=password_hash, display_name=display_name, password_changed_at=datetime.now(UTC))
        .on_conflict_do_nothing(index_elements=[User.email])
        .returning(User.id)
    )
    created = await session.scalar(statement)
    await session.commit()
    return created
