"""The web client's refresh cookie and its CSRF protection (double submit).

`plant_refresh` holds the refresh token: HttpOnly, Secure (except in development), SameSite=Strict,
Path=/api/v1/auth/, so scripts never read it and the browser sends it only to the auth service.
`plant_csrf` holds a random value that scripts can read (not HttpOnly, Path=/); a cookie-based
refresh must echo it in `X-CSRF-Token`. Another site can make the browser send the cookies, but
cannot read `plant_csrf` to set the header.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request, Response
from plant_shared.errors import ApiError

from auth_service.config import Settings

REFRESH_COOKIE = "plant_refresh"
CSRF_COOKIE = "plant_csrf"
CSRF_HEADER = "X-CSRF-Token"
COOKIE_PATH = "/api/v1/auth/"


def set_session_cookies(response: Response, refresh_token: str, settings: Settings) -> None:
    """Set the refresh cookie and a fresh CSRF cookie, both living as long as the refresh token."""
    max_age = settings.refresh_token_ttl_seconds
    secure = settings.cookie_secure
    response.set_cookie(REFRESH_COOKIE, refresh_token, max_age=max_age, path=COOKIE_PATH, secure=secure, httponly=True, samesite="strict")
    response.set_cookie(CSRF_COOKIE, secrets.token_urlsafe(32), max_age=max_age, path="/", secure=secure, httponly=False, samesite="strict")


def clear_session_cookies(response: Response, settings: Settings) -> None:
    secure = settings.cookie_secure
    response.delete_cookie(REFRESH_COOKIE, path=COOKIE_PATH, secure=secure, httponly=True, samesite="strict")
    response.delete_cookie(CSRF_COOKIE, path="/", secure=secure, httponly=False, samesite="strict")


def refresh_cookie(request: Request) -> str | None:
    return request.cookies.get(REFRESH_COOKIE) or None


def check_csrf(request: Request) -> None:
    """Raises:
    ApiError: 403 `csrf_failed` unless `X-CSRF-Token` equals the `plant_csrf` cookie.
    """
    cookie = request.cookies.get(CSRF_COOKIE, "")
    header = request.headers.get(CSRF_HEADER, "")
    if not cookie or not header or not hmac.compare_digest(cookie.encode(), header.encode()):
        raise ApiError(403, f"CSRF check failed: send the {CSRF_COOKIE} cookie's value in the {CSRF_HEADER} header.", "csrf_failed")
