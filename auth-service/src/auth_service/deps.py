"""Typed dependency aliases: route signatures say what they need (`session: SessionDep`)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from plant_shared.errors import ApiError
from plant_shared.tokens import Claims
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.client_ip import client_ip
from auth_service.config import Settings
from auth_service.denylist import DenyList
from auth_service.keyring import KeyRing
from auth_service.login_throttle import LoginThrottle
from auth_service.mail import Mailer
from auth_service.models import Role, User
from auth_service.token_contract import USER_SCOPE
from auth_service.token_service import TokenService
from auth_service.tokens_verify import AccessTokenVerifier, invalid


# These only read what the lifespan made, so they are `async def`: FastAPI runs a plain `def`
# dependency in the thread pool, a hop per dependency per request that costs more than the read.
async def get_settings_from_app(request: Request) -> Settings:
    return request.app.state.settings


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request from the process-wide factory; the route commits what it changes."""
    async with request.app.state.sessionmaker() as session:
        yield session


async def get_redis(request: Request) -> Redis:
    return request.app.state.redis


async def get_denylist_redis(request: Request) -> Redis:
    return request.app.state.denylist_redis


async def get_denylist(request: Request) -> DenyList:
    return request.app.state.denylist


async def get_keyring(request: Request) -> KeyRing:
    return request.app.state.keyring


async def get_tokens(request: Request) -> TokenService:
    return request.app.state.tokens


async def get_throttle(request: Request) -> LoginThrottle:
    return request.app.state.login_throttle


async def get_mailer(request: Request) -> Mailer:
    return request.app.state.mailer


async def get_client_ip(request: Request) -> str:
    return client_ip(request, request.app.state.settings.trusted_proxies)


SettingsDep = Annotated[Settings, Depends(get_settings_from_app)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
RedisDep = Annotated[Redis, Depends(get_redis)]
DenylistRedisDep = Annotated[Redis, Depends(get_denylist_redis)]
DenyListDep = Annotated[DenyList, Depends(get_denylist)]
KeyRingDep = Annotated[KeyRing, Depends(get_keyring)]
TokensDep = Annotated[TokenService, Depends(get_tokens)]
ThrottleDep = Annotated[LoginThrottle, Depends(get_throttle)]
MailerDep = Annotated[Mailer, Depends(get_mailer)]
ClientIpDep = Annotated[str, Depends(get_client_ip)]

# auto_error=False: a missing header gets our envelope, not FastAPI's 403.
_bearer = HTTPBearer(auto_error=False, bearerFormat="JWT", description="An access token from login or refresh.")


async def get_access_claims(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Claims:
    """The verified claims of the request's bearer token (401 otherwise)."""
    if credentials is None:
        raise ApiError(401, "Authentication required: send an access token as `Authorization: Bearer <token>`.", "not_authenticated",
                       headers={"WWW-Authenticate": "Bearer"})
    verifier: AccessTokenVerifier = request.app.state.verifier
    return await verifier.verify(credentials.credentials)


AccessClaims = Annotated[Claims, Depends(get_access_claims)]


async def get_user_claims(claims: AccessClaims) -> Claims:
    """Claims of a user's token; a service token (scope `internal`) cannot act as a user."""
    if claims.scope != USER_SCOPE:
        raise ApiError(403, "This endpoint needs a user's access token.", "permission_denied")
    return claims


UserClaims = Annotated[Claims, Depends(get_user_claims)]


async def get_current_user(claims: UserClaims, session: SessionDep) -> User:
    """The signed-in user, read from the database (401 when the account is gone or disabled)."""
    try:
        user_id = uuid.UUID(claims.sub)
    except ValueError:
        raise invalid() from None
    user = await session.get(User, user_id)
    if user is None or not user.is_active:
        raise invalid("The account of this access token no longer exists.")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_admin(user: CurrentUser) -> User:
    """The signed-in user when they are an admin (403 otherwise; the role is read from the database)."""
    if user.role != Role.ADMIN:
        raise ApiError(403, "This endpoint is for administrators.", "permission_denied")
    return user


AdminUser = Annotated[User, Depends(get_admin)]
