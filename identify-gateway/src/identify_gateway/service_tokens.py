"""This service's own token for calling the CMS: the client-credentials grant at the auth service
(`POST /api/v1/auth/token`, `grant_type=client_credentials`, `audience=cms`), kept until shortly
before it expires and fetched by one caller at a time.
"""

from __future__ import annotations

import asyncio
import logging
import time

import httpx

log = logging.getLogger(__name__)
EARLY_REFRESH_S = 30  # renew this long before `expires_in` runs out


class ServiceTokenError(Exception):
    """No token could be obtained (auth service down, client unknown, wrong secret)."""


class ServiceTokens:
    """Short-lived service tokens for one audience.

    Args:
        http: long-lived client with explicit timeouts.
        token_url: the auth service's token endpoint.
        client_id, client_secret: this service's credentials.
        audience: the callee (`cms`).
    """

    def __init__(self, http: httpx.AsyncClient, *, token_url: str, client_id: str, client_secret: str, audience: str) -> None:
        self._http = http
        self._url = token_url
        self._form = {"grant_type": "client_credentials", "audience": audience, "client_id": client_id, "client_secret": client_secret}
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    def forget(self) -> None:
        """Drop the cached token (the callee refused it)."""
        self._token, self._expires_at = None, 0.0

    async def token(self) -> str:
        """A valid token, fetched when the cached one is missing or about to expire.

        Raises:
            ServiceTokenError: the auth service did not give one.
        """
        if self._token is not None and time.monotonic() < self._expires_at:
            return self._token
        async with self._lock:
            if self._token is not None and time.monotonic() < self._expires_at:
                return self._token
            try:
                response = await self._http.post(self._url, data=self._form)
            except httpx.HTTPError as exc:
                raise ServiceTokenError(f"auth service unreachable: {type(exc).__name__}") from None
            if response.status_code != 200:
                raise ServiceTokenError(f"auth service answered HTTP {response.status_code} to the client-credentials grant")
            try:
                body = response.json()
                token, expires_in = str(body["access_token"]), int(body.get("expires_in", 300))
            except (ValueError, KeyError, TypeError):
                raise ServiceTokenError("auth service answered an unreadable token response") from None
            self._token = token
            self._expires_at = time.monotonic() + max(1, expires_in - EARLY_REFRESH_S)
            return token
