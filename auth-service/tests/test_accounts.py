"""`upsert_user`, the operation behind `create-user`."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from auth_service.accounts import upsert_user
from auth_service.db import create_sessionmaker
from auth_service.models import Role, Tier, User


async def test_new_user_gets_defaults_and_a_password(session, new_email):
    result = await upsert_user(session, email=new_email(), password="pw-123456", role=Role.EDITOR)

    assert result.outcome == "created"
    assert result.user.tier == Tier.FREE
    assert result.user.display_name == result.user.email.partition("@")[0]
    assert result.user.password_changed_at is not None


async def test_account_without_password_gets_one(session, new_email):
    email = new_email()
    session.add(User(email=email))  # e.g. created through a linked identity
    await session.commit()

    result = await upsert_user(session, email=email, password="pw-123456", role=Role.MEMBER)

    assert result.outcome == "updated"
    assert result.user.password_hash is not None


async def test_concurrent_upserts_create_exactly_one_account(database_url, new_email):
    # Given two processes creating the same account at the same moment
    email = new_email()
    engine = create_async_engine(database_url)
    sessions = create_sessionmaker(engine)

    async def one(role: Role):
        async with sessions() as session:
            return await upsert_user(session, email=email, password="pw-123456", role=role)

    # When both run
    results = await asyncio.gather(one(Role.MEMBER), one(Role.MEMBER))

    # Then one created it, the other found it, and there is one row
    async with sessions() as session:
        count = await session.scalar(select(func.count()).select_from(User).where(User.email == email))
    await engine.dispose()
    assert count == 1
    assert sorted(r.outcome for r in results) == ["created", "unchanged"]
