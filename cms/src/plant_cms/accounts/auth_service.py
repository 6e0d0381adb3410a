"""The CMS as a client of the auth service, for editors signing in to the Wagtail admin.

The password goes to the auth service and nowhere else; the CMS keeps neither it nor the tokens
it gets back: the access token is verified (shared verifier, audience `cms`), used once to read
the account's email and name, and the sign-in is then ended (`/logout`), so no refresh-token
family stays open on the CMS's behalf.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import httpx
from django.conf import settings
from plant_shared.django_auth import get_verifier
from plant_shared.tokens import Claims, TokenError

log = logging.getLogger("plant_cms.accounts")

LOGIN_PATH = "/api/v1/auth/login"
ME_PATH = "/api/v1/auth/me"
LOGOUT_PATH = "/api/v1/auth/logout"

_client: httpx.Client | None = None
_client_lock = threading.Lock()


class SignInError(Exception):
    """The auth service did not sign the person in.

    Attributes:
        reason: `invalid_credentials` (wrong email or password, or a refused token), `throttled`
            (too many attempts; `retry_after` seconds) or `unavailable` (the auth service or the
            token checks could not be reached).
    """

    def __init__(self, reason: str, retry_after: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


@dataclass(frozen=True)
class SignedIn:
    claims: Claims
    email: str
    display_name: str


def http_client() -> httpx.Client:
    """One client per process (connection reuse), with explicit timeouts and no redirects."""
    global _client
    if _client is None:
        with _client_lock:
            if _client is None:
                _client = httpx.Client(
                    base_url=settings.AUTH_SERVICE_URL,
                    timeout=httpx.Timeout(settings.AUTH_SERVICE_TIMEOUT),
                    follow_redirects=False,
                    headers={"User-Agent": "plant-community-cms"},
                )
    return _client


def reset_http_client() -> None:
    """Forget the client (tests pointing `AUTH_SERVICE_URL` elsewhere)."""
    global _client
    with _client_lock:
        if _client is not None:
            _client.close()
        _client = None


def sign_in(email: str, password: str) -> SignedIn:
    """Check an email and password with the auth service and return the verified identity.

    Raises:
        SignInError: see its `reason`.
    """
    client = http_client()
    try:
        response = client.post(LOGIN_PATH, json={"email": email, "password": password})
    except httpx.HTTPError as exc:
        log.warning("auth service unreachable for an editor sign-in", extra={"error": type(exc).__name__})
        raise SignInError("unavailable") from None
    if response.status_code == 429:
        retry = response.headers.get("Retry-After", "")
        raise SignInError("throttled", int(retry) if retry.isdigit() else None)
    if response.status_code in (400, 401, 403, 422):
        raise SignInError("invalid_credentials")
    if response.status_code != 200:
        log.warning("auth service answered an editor sign-in with an error", extra={"status": response.status_code})
        raise SignInError("unavailable")
    try:
        token = response.json()["access_token"]
        if not isinstance(token, str):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        log.warning("auth service login answer without an access token")
        raise SignInError("unavailable") from None
    try:
        claims = get_verifier().verify(token)
    except TokenError as exc:
        log.warning("editor sign-in token refused", extra={"code": exc.code})
        raise SignInError("unavailable" if exc.status == 503 else "invalid_credentials") from None
    email_seen, name = _account(client, token, fallback_email=email)
    _end_session(client, token)
    return SignedIn(claims=claims, email=email_seen, display_name=name)


def _account(client: httpx.Client, token: str, *, fallback_email: str) -> tuple[str, str]:
    """The account's canonical email and display name (the typed email if /me cannot answer)."""
    try:
        response = client.get(ME_PATH, headers={"Authorization": f"Bearer {token}"})
        if response.status_code == 200:
            body = response.json()
            return str(body.get("email") or fallback_email)[:254], str(body.get("display_name") or "")[:150]
    except (httpx.HTTPError, ValueError, AttributeError):
        pass
    return fallback_email.strip().lower()[:254], ""


def _end_session(client: httpx.Client, token: str) -> None:
    try:
        client.post(LOGOUT_PATH, headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError:
        # The family then simply expires; signing in still worked.
        log.info("could not end the auth-service session of an editor sign-in")
