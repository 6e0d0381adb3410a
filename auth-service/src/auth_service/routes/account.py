"""The signed-in user's own account: read, update, change password, delete."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Response, status
from plant_shared.errors import ApiError
from pydantic import BaseModel, Field
from sqlalchemy import delete

from auth_service.account_events import publish_user_deleted
from auth_service.deps import (
    ClientIpDep,
    CurrentUser,
    DenyListDep,
    DenylistRedisDep,
    SessionDep,
    SettingsDep,
    ThrottleDep,
    TokensDep,
)
from auth_service.login_throttle import LoginThrottle, account_key
from auth_service.models import User
from auth_service.password_policy import WeakPasswordError, check_password
from auth_service.passwords import hash_password_async, verify_password_async
from auth_service.routes.session import weak_password
from auth_service.routes.tokens_out import token_response
from auth_service.schemas import REQUEST_ERRORS, ClientKind, Message, PasswordField, TokenResponse, UserOut
from auth_service.web_cookies import clear_session_cookies

router = APIRouter(prefix="/api/v1/auth", tags=["account"], responses=REQUEST_ERRORS)

_AUTH_ERRORS: dict[int | str, dict[str, Any]] = {401: {"model": Message}, 403: {"model": Message, "description": "The password given is wrong."}, 429: {"model": Message}}


class ProfileUpdate(BaseModel):
    display_name: str | None = Field(default=None, min_length=1, max_length=100)


class PasswordChange(BaseModel):
    current_password: str = PasswordField
    new_password: str = PasswordField
    client: ClientKind = "mobile"


class DeleteAccount(BaseModel):
    password: str = PasswordField


async def confirm_password(user: User, password: str, throttle: LoginThrottle, ip: str) -> None:
    """Re-check the user's password before a sensitive change; failures count as failed logins.

    Raises:
        ApiError: 403 `invalid_password`, or 429 once the account or IP is locked.
    """
    account = account_key(user.email)
    await throttle.before_attempt(account, ip)
    if not await verify_password_async(user.password_hash, password):
        await throttle.record_failure(account, ip)
        raise ApiError(403, "The password is incorrect.", "invalid_password")


@router.get("/me", response_model=UserOut, responses={401: {"model": Message}})
async def read_me(user: CurrentUser) -> User:
    """The signed-in user's account."""
    return user


@router.patch("/me", response_model=UserOut, responses={401: {"model": Message}})
async def update_me(body: ProfileUpdate, user: CurrentUser, session: SessionDep) -> User:
    """Change the signed-in user's profile (display name)."""
    if body.display_name is not None:
        name = body.display_name.strip()
        if not name or not name.isprintable():
            raise ApiError(422, "The display name must contain visible characters and no control characters.", "invalid_display_name")
        user.display_name = name
    await session.commit()
    await session.refresh(user)
    return user


@router.post("/change-password", response_model=TokenResponse, response_model_exclude_none=True, responses=_AUTH_ERRORS)
async def change_password(
    body: PasswordChange,
    user: CurrentUser,
    response: Response,
    session: SessionDep,
    tokens: TokensDep,
    throttle: ThrottleDep,
    ip: ClientIpDep,
    settings: SettingsDep,
) -> object:
    """Change the password: every sign-in ends, and this client gets a new token pair."""
    await confirm_password(user, body.current_password, throttle, ip)
    try:
        check_password(body.new_password, email=user.email)
    except WeakPasswordError as exc:
        raise weak_password(exc) from None
    user.password_hash = await hash_password_async(body.new_password)
    user.password_changed_at = datetime.now(UTC)
    await tokens.end_all(session, user.id, reason="password_changed")
    pair = await tokens.open(session, user, client=body.client)
    return token_response(pair, body.client, response, settings)


@router.delete("/me", status_code=status.HTTP_204_NO_CONTENT, responses=_AUTH_ERRORS)
async def delete_me(
    body: DeleteAccount,
    user: CurrentUser,
    response: Response,
    session: SessionDep,
    denylist: DenyListDep,
    events: DenylistRedisDep,
    throttle: ThrottleDep,
    ip: ClientIpDep,
    settings: SettingsDep,
) -> None:
    """Delete the account after a password check: its data is erased, every token revoked, other services told."""
    await confirm_password(user, body.password, throttle, ip)
    # Rows first (cascades: identities, families, refresh and reset tokens), then revocation and
    # the event, then commit: if Redis fails the deletion rolls back and the client sees 503.
    await session.execute(delete(User).where(User.id == user.id))
    await denylist.deny_subject(str(user.id))
    await publish_user_deleted(events, user.id)
    await session.commit()
    clear_session_cookies(response, settings)
