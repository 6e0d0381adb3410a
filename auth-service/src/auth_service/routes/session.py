"""Sign-up and sign-in: register, login, refresh, logout, logout everywhere."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request, Response, status
from plant_shared.errors import ApiError
from pydantic import BaseModel, Field
from sqlalchemy import select

from auth_service.deps import (
    ClientIpDep,
    CurrentUser,
    MailerDep,
    SessionDep,
    SettingsDep,
    ThrottleDep,
    TokensDep,
    UserClaims,
)
from auth_service.emails import InvalidEmailError, normalize_email, parse_email
from auth_service.login_throttle import account_key
from auth_service.mail import Mail, Mailer
from auth_service.models import User
from auth_service.password_policy import WeakPasswordError, check_password
from auth_service.passwords import hash_password_async, needs_rehash, verify_password_async
from auth_service.registration import create_account
from auth_service.routes.tokens_out import token_response
from auth_service.schemas import REQUEST_ERRORS, ClientKind, Email, Message, PasswordField, TokenResponse
from auth_service.web_cookies import check_csrf, clear_session_cookies, refresh_cookie

router = APIRouter(prefix="/api/v1/auth", tags=["session"], responses=REQUEST_ERRORS)

REGISTRATION_ACCEPTED = Message(
    detail="Registration received. If the address was free, the account is ready and you can sign in; we have sent a mail to the address either way.",
    code="registration_accepted",
)
INVALID_CREDENTIALS = "Email or password is incorrect."
_THROTTLED: dict[int | str, dict[str, Any]] = {429: {"model": Message, "description": "Too many failed attempts; see `Retry-After`."}}


class RegisterRequest(BaseModel):
    email: Email
    password: str = PasswordField
    display_name: str | None = Field(default=None, min_length=1, max_length=100)


class LoginRequest(BaseModel):
    email: Email
    password: str = PasswordField
    client: ClientKind = Field(default="mobile", description="`web`: the refresh token goes into an HttpOnly cookie. `mobile`: into the body.")


class RefreshRequest(BaseModel):
    refresh_token: str | None = Field(default=None, max_length=256, description="Mobile clients; web clients send the plant_refresh cookie and X-CSRF-Token.")


def weak_password(exc: WeakPasswordError) -> ApiError:
    return ApiError(422, str(exc), "weak_password")


async def _registration_mail(mailer: Mailer, email: str, created: bool, sign_in_url: str) -> None:
    if created:
        mail = Mail(to=email, subject="Welcome to Plant Community", kind="welcome", body=f"Your account is ready. Sign in at {sign_in_url}.")
    else:
        mail = Mail(
            to=email,
            subject="Someone tried to register with your address",
            kind="already_registered",
            body=f"You already have an account. Sign in at {sign_in_url}, or reset your password there if you forgot it.",
        )
    await mailer.send(mail)


@router.post("/register", status_code=status.HTTP_202_ACCEPTED, response_model=Message)
async def register(body: RegisterRequest, session: SessionDep, mailer: MailerDep, settings: SettingsDep, background: BackgroundTasks) -> Message:
    """Create an account; the answer is the same whether or not the address already had one."""
    try:
        email = parse_email(body.email)
        check_password(body.password, email=email)
    except InvalidEmailError as exc:
        raise ApiError(422, str(exc), "invalid_email") from None
    except WeakPasswordError as exc:
        raise weak_password(exc) from None
    # Hash before knowing whether the address is free: both paths cost the same.
    password_hash = await hash_password_async(body.password)
    display_name = (body.display_name or "").strip() or email.partition("@")[0][:100]
    created = await create_account(session, email=email, password_hash=password_hash, display_name=display_name)
    background.add_task(_registration_mail, mailer, email, created is not None, f"{settings.public_base_url}/login")
    return REGISTRATION_ACCEPTED


@router.post("/login", response_model=TokenResponse, response_model_exclude_none=True, responses={401: {"model": Message}, **_THROTTLED})
async def login(
    body: LoginRequest, response: Response, session: SessionDep, tokens: TokensDep, throttle: ThrottleDep, ip: ClientIpDep, settings: SettingsDep
) -> TokenResponse:
    """Exchange email and password for an access token and a refresh token."""
    email = normalize_email(body.email)
    account = account_key(email)
    delay = await throttle.before_attempt(account, ip)
    if delay:
        await asyncio.sleep(delay)
    user = await session.scalar(select(User).where(User.email == email))
    usable = user if user is not None and user.is_active else None
    # Unknown email, disabled account, no password: the same Argon2 work and the same answer.
    verified = await verify_password_async(usable.password_hash if usable is not None else None, body.password)
    if usable is None or not verified:
        await throttle.record_failure(account, ip)
        raise ApiError(401, INVALID_CREDENTIALS, "invalid_credentials")
    await throttle.record_success(account)
    if usable.password_hash is not None and needs_rehash(usable.password_hash):
        usable.password_hash = await hash_password_async(body.password)
    pair = await tokens.open(session, usable, client=body.client)
    return token_response(pair, body.client, response, settings)


@router.post(
    "/refresh",
    response_model=TokenResponse,
    response_model_exclude_none=True,
    responses={401: {"model": Message}, 403: {"model": Message, "description": "Cookie refresh without a matching X-CSRF-Token."}},
)
async def refresh(request: Request, response: Response, session: SessionDep, tokens: TokensDep, settings: SettingsDep, body: RefreshRequest | None = None) -> TokenResponse:
    """Rotate a refresh token (body for mobile, cookie plus `X-CSRF-Token` for web) for a new token pair."""
    if body is not None and body.refresh_token:
        return token_response(await tokens.refresh(session, body.refresh_token), "mobile", response, settings)
    cookie = refresh_cookie(request)
    if cookie is None:
        raise ApiError(401, "No refresh token: send it in the body (mobile) or the plant_refresh cookie (web).", "invalid_refresh_token")
    check_csrf(request)
    return token_response(await tokens.refresh(session, cookie), "web", response, settings)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses={401: {"model": Message}})
async def logout(claims: UserClaims, session: SessionDep, tokens: TokensDep, settings: SettingsDep, response: Response) -> None:
    """End this sign-in: the access token and its refresh-token family stop working."""
    await tokens.end(session, claims)
    clear_session_cookies(response, settings)


@router.post("/logout-all", status_code=status.HTTP_204_NO_CONTENT, responses={401: {"model": Message}})
async def logout_all(user: CurrentUser, session: SessionDep, tokens: TokensDep, settings: SettingsDep, response: Response) -> None:
    """Log out everywhere: every sign-in of this account ends, on every device."""
    await tokens.end_all(session, user.id, reason="logout_all")
    clear_session_cookies(response, settings)
