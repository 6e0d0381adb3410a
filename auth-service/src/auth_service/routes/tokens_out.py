"""Shaping a token pair for the client that asked: JSON for mobile, JSON plus cookies for web."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from fastapi import Response

from auth_service.config import Settings
from auth_service.schemas import ClientKind, TokenResponse
from auth_service.token_service import TokenPair
from auth_service.web_cookies import set_session_cookies


def token_response(pair: TokenPair, client: ClientKind, response: Response, settings: Settings) -> TokenResponse:
    """Mobile: both tokens in the body. Web: the access token in the body, the refresh token in
    the HttpOnly cookie (never in the body, where scripts could read it) and a new CSRF cookie."""
    if client == "web":
        set_session_cookies(response, pair.refresh.value, settings)
        return TokenResponse(access_token=pair.access.token, expires_in=pair.access.expires_in)
    refresh_in = math.floor((pair.refresh.expires_at - datetime.now(UTC)).total_seconds())
    return TokenResponse(
        access_token=pair.access.token, expires_in=pair.access.expires_in, refresh_token=pair.refresh.value, refresh_expires_in=refresh_in
    )
