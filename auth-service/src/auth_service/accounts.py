"""Account operations shared by the CLI and, later, the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.emails import parse_email
from auth_service.models import Role, Tier, User
from auth_service.passwords import hash_password, needs_rehash, verify_password

Outcome = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True)
class UpsertResult:
    user: User
    outcome: Outcome


async def upsert_user(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    role: Role,
    tier: Tier | None = None,
    display_name: str | None = None,
) -> UpsertResult:
    """Create the account for `email`, or bring an existing one to the given password and role.

    Idempotent: run twice with the same arguments, the second run changes nothing (the hash and
    `password_changed_at` stay, so sessions issued in between stay valid). `tier` and
    `display_name` change only when given.

    Raises:
        InvalidEmailError: the email address is not valid.
    """
    canonical = parse_email(email)
    try:
        return await _upsert(session, canonical, password, role, tier, display_name)
    except IntegrityError:
        # Another process created the same email between our read and our insert: update theirs.
        await session.rollback()
        return await _upsert(session, canonical, password, role, tier, display_name)


async def _upsert(
    session: AsyncSession, email: str, password: str, role: Role, tier: Tier | None, display_name: str | None
) -> UpsertResult:
    user = await session.scalar(select(User).where(User.email == email).with_for_update())
    if user is None:
        user = User(
            email=email,
            display_name=display_name if display_name is not None else email.partition("@")[0],
            role=role,
            tier=tier or Tier.FREE,
            password_hash=hash_password(password),
            password_changed_at=datetime.now(UTC),
        )
        session.add(user)
        await session.commit()
        return UpsertResult(user, "created")

    changed = False
    if user.password_hash is None or not verify_password(user.password_hash, password):
        user.password_hash = hash_password(password)
        user.password_changed_at = datetime.now(UTC)
        changed = True
    elif needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)  # same password, current parameters
        changed = True
    for field, value in (("role", role), ("tier", tier), ("display_name", display_name)):
        if value is not None and getattr(user, field) != value:
            setattr(user, field, value)
            changed = True
    await session.commit()
    return UpsertResult(user, "updated" if changed else "unchanged")
