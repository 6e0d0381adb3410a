"""Password reset: ask for a one-time link by mail, then set a new password with it."""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, BackgroundTasks, Request, status
from plant_shared.errors import ApiError
from pydantic import BaseModel, Field
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from auth_service.config import Settings
from auth_service.deps import RedisDep, SessionDep, SettingsDep, ThrottleDep, TokensDep
from auth_service.emails import InvalidEmailError, parse_email
from auth_service.login_throttle import account_key
from auth_service.mail import Mail, Mailer
from auth_service.models import User
from auth_service.password_policy import WeakPasswordError, check_password
from auth_service.password_reset import consume_reset_token, create_reset_token
from auth_service.passwords import hash_password_async
from auth_service.routes.session import weak_password
from auth_service.schemas import REQUEST_ERRORS, Email, Message, PasswordField

router = APIRouter(prefix="/api/v1/auth", tags=["password reset"], responses=REQUEST_ERRORS)
log = logging.getLogger(__name__)

RESET_ACCEPTED = Message(
    detail="If an account exists for this address, we have sent it a link to reset the password.", code="password_reset_requested"
)
# One reset mail per address per minute, whatever the number of requests (no mail bombing).
MAIL_COOLDOWN_SECONDS = 60


class ResetRequest(BaseModel):
    email: Email


class ResetConfirm(BaseModel):
    token: str = Field(min_length=1, max_length=256)
    new_password: str = PasswordField


async def _send_reset_mail(sessionmaker: async_sessionmaker[AsyncSession], redis: Redis, mailer: Mailer, settings: Settings, email: str) -> None:
    """After the response: find the account, make a token, mail the link. Nothing of this shows in
    the answer or its timing, so the endpoint reveals nothing about which addresses have accounts."""
    try:
        cooldown_key = f"auth:reset:cooldown:{hashlib.sha256(email.encode()).hexdigest()[:32]}"
        if not await redis.set(cooldown_key, "1", nx=True, ex=MAIL_COOLDOWN_SECONDS):
            return
        async with sessionmaker() as session:
            user = await session.scalar(select(User).where(User.email == email))
            if user is None or not user.is_active:
                return
            now = datetime.now(UTC)
            token = await create_reset_token(session, user.id, now=now, ttl=timedelta(seconds=settings.password_reset_ttl_seconds))
        link = f"{settings.public_base_url}/reset-password?token={token}"
        minutes = settings.password_reset_ttl_seconds // 60
        body = f"To choose a new password, open {link} within {minutes} minutes. If you did not ask for this, ignore this mail."
        await mailer.send(Mail(to=email, subject="Reset your Plant Community password", body=body, kind="password_reset", data={"link": link, "token": token}))
    except Exception:  # the client has its answer already; make sure the failure is seen in the logs
        log.exception("password-reset mail failed")


@router.post("/password-reset", status_code=status.HTTP_202_ACCEPTED, response_model=Message)
async def request_reset(body: ResetRequest, request: Request, redis: RedisDep, settings: SettingsDep, background: BackgroundTasks) -> Message:
    """Mail a one-time password-reset link; the answer is the same whether or not the account exists."""
    try:
        email = parse_email(body.email)
    except InvalidEmailError as exc:
        raise ApiError(422, str(exc), "invalid_email") from None
    background.add_task(_send_reset_mail, request.app.state.sessionmaker, redis, request.app.state.mailer, settings, email)
    return RESET_ACCEPTED


@router.post("/password-reset/confirm", status_code=status.HTTP_204_NO_CONTENT, responses={400: {"model": Message}, 422: {"model": Message}})
async def confirm_reset(body: ResetConfirm, session: SessionDep, tokens: TokensDep, throttle: ThrottleDep) -> None:
    """Set a new password with a reset token; every sign-in of the account ends."""
    now = datetime.now(UTC)
    user = await consume_reset_token(session, body.token, now=now)
    if user is None:
        await session.rollback()
        raise ApiError(400, "This password-reset link is invalid, used or expired. Ask for a new one.", "invalid_reset_token")
    try:
        check_password(body.new_password, email=user.email)
    except WeakPasswordError as exc:
        await session.rollback()  # the token stays usable for a better password
        raise weak_password(exc) from None
    user.password_hash = await hash_password_async(body.new_password)
    user.password_changed_at = now
    await tokens.end_all(session, user.id, reason="password_reset")
    await throttle.record_success(account_key(user.email))
