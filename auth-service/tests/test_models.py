"""The user model against the migrated schema."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from auth_service.models import LinkedIdentity, Role, Tier, User


async def test_email_is_stored_normalised(session):
    session.add(User(email="  Fern.GULLY@Plant.Test ", display_name="Fern"))
    await session.commit()

    stored = await session.scalar(select(User.email).where(User.display_name == "Fern"))

    assert stored == "fern.gully@plant.test"


async def test_same_address_differently_written_is_refused(session):
    session.add(User(email="e\u0301mile@plant.test"))
    await session.commit()

    session.add(User(email="\u00c9MILE@PLANT.TEST"))
    with pytest.raises(IntegrityError, match="ix_users_email"):
        await session.commit()


async def test_new_user_defaults(session, new_email):
    user = User(email=new_email())
    session.add(user)
    await session.commit()
    await session.refresh(user)

    assert (user.role, user.tier, user.is_active, user.password_hash) == (Role.MEMBER, Tier.FREE, True, None)
    assert user.created_at is not None and user.created_at.tzinfo is not None


async def test_linked_identity_is_unique_per_provider_subject(session, new_email):
    user = User(email=new_email())
    session.add(user)
    await session.flush()
    session.add(LinkedIdentity(provider="github", subject="42", user_id=user.id))
    await session.commit()

    session.add(LinkedIdentity(provider="github", subject="42", user_id=user.id))
    with pytest.raises(IntegrityError, match="uq_linked_identities_provider_subject"):
        await session.commit()


async def test_deleting_a_user_deletes_their_identities(session, new_email):
    user = User(email=new_email())
    session.add(user)
    await session.flush()
    session.add(LinkedIdentity(provider="google", subject="abc", user_id=user.id))
    await session.commit()

    await session.delete(user)
    await session.commit()

    assert await session.scalar(select(func.count()).select_from(LinkedIdentity).where(LinkedIdentity.subject == "abc")) == 0
