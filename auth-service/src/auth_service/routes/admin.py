"""Administration of accounts (role `admin`): list users, change role or tier, revoke sessions."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status
from plant_shared.errors import ApiError
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.deps import AdminUser, SessionDep, TokensDep
from auth_service.emails import normalize_email
from auth_service.models import Role, Tier, User
from auth_service.schemas import REQUEST_ERRORS, AdminUserOut, Message

router = APIRouter(
    prefix="/api/v1/auth/admin",
    tags=["admin"],
    responses={401: {"model": Message}, 403: {"model": Message, "description": "The caller is not an admin."}, **REQUEST_ERRORS},
)


class UserPage(BaseModel):
    items: list[AdminUserOut]
    total: int
    limit: int
    offset: int


class UserChange(BaseModel):
    role: Role | None = None
    tier: Tier | None = None


async def _user_or_404(session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await session.get(User, user_id, with_for_update=True)
    if user is None:
        raise ApiError(404, "No user with this id.", "user_not_found")
    return user


@router.get("/users", response_model=UserPage)
async def list_users(
    _: AdminUser,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    email: Annotated[str | None, Query(max_length=320, description="Only addresses containing this text.")] = None,
) -> UserPage:
    """List accounts, oldest first, a page at a time (`limit`, `offset`), optionally filtered by email."""
    query = select(User)
    if email and "\x00" in email:
        raise ApiError(422, "Invalid request: email: must not contain NUL characters.", "validation_error")
    if email:
        pattern = "%" + normalize_email(email).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(User.email.like(pattern, escape="\\"))
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(query.order_by(User.created_at, User.id).limit(limit).offset(offset))
    return UserPage(items=[AdminUserOut.model_validate(u) for u in rows], total=total or 0, limit=limit, offset=offset)


@router.get("/users/{user_id}", response_model=AdminUserOut, responses={404: {"model": Message}})
async def read_user(user_id: uuid.UUID, _: AdminUser, session: SessionDep) -> User:
    """One account."""
    return await _user_or_404(session, user_id)


@router.patch("/users/{user_id}", response_model=AdminUserOut, responses={404: {"model": Message}, 409: {"model": Message}})
async def change_user(user_id: uuid.UUID, body: UserChange, admin: AdminUser, session: SessionDep, tokens: TokensDep) -> User:
    """Change an account's role or tier; its current access tokens end, its next refresh carries the change."""
    user = await _user_or_404(session, user_id)
    if body.role is not None and user.id == admin.id and body.role != admin.role:
        raise ApiError(409, "Admins cannot change their own role; ask another admin.", "cannot_change_own_role")
    changed = False
    for field in ("role", "tier"):
        value = getattr(body, field)
        if value is not None and getattr(user, field) != value:
            setattr(user, field, value)
            changed = True
    await session.commit()
    if changed:
        await tokens.end_access_tokens(user.id)
    await session.refresh(user)
    return user


@router.post("/users/{user_id}/revoke-sessions", status_code=status.HTTP_204_NO_CONTENT, responses={404: {"model": Message}})
async def revoke_sessions(user_id: uuid.UUID, _: AdminUser, session: SessionDep, tokens: TokensDep) -> None:
    """End every sign-in of an account (its access and refresh tokens stop working)."""
    user = await _user_or_404(session, user_id)
    await tokens.end_all(session, user.id, reason="admin_revoked")
