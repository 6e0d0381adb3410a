"""Django and DRF adapters for the shared token verifier (the CMS wires them).

Django and DRF are imported lazily: the rest of `plant_shared` never needs them, and importing
this module needs neither configured settings nor DRF until the DRF class is asked for.

Configuration is the CMS's, handed over in one setting (read on first use)::

    PLATFORM_TOKEN_VERIFIER = {
        "jwks_url": "http://127.0.0.1:8101/.well-known/jwks.json",
        "issuer": "plant-community-auth",
        "audience": "cms",
        "denylist_redis_url": "redis://127.0.0.1:6380/4",  # None: no deny-list (tests only)
        # optional: "leeway": 30, "refetch_cooldown": 30, "denylist_failure": "closed",
        #           "http_timeout": 3.0, "redis_timeout": 0.5, "denylist_mirror": True
    }
    REST_FRAMEWORK = {"DEFAULT_AUTHENTICATION_CLASSES": ["plant_shared.django_auth.PlatformTokenAuthentication", ...]}
    MIDDLEWARE = [..., "plant_shared.django_auth.PlatformClaimsMiddleware"]

The middleware and the DRF class share one verification per request (the result is memoised on
the request), so using both costs one signature check and one deny-list read.

The deny-list is mirrored in memory (`SyncDenylistMirror`, a daemon thread subscribed to
`deny:events`), started by the first verification in each process (after a fork too); until it is
fresh, and whenever it is not, each verification reads Redis with one `MGET` as before.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import httpx

from plant_shared.tokens import Claims, SyncDenylistMirror, SyncTokenVerifier, TokenError, extract_bearer

_verifier: SyncTokenVerifier | None = None
_verifier_lock = threading.Lock()
_MEMO = "_platform_token_result"


def build_verifier(config: Mapping[str, Any]) -> SyncTokenVerifier:
    """A `SyncTokenVerifier` with its own HTTP and Redis clients, from a `PLATFORM_TOKEN_VERIFIER` dict.

    Args:
        config: `jwks_url`, `issuer`, `audience`, `denylist_redis_url` (required keys; the last may
            be None), and optionally `leeway`, `refetch_cooldown`, `denylist_failure`,
            `http_timeout` (JWKS fetch, s), `redis_timeout` (deny-list socket timeout, s),
            `denylist_mirror` (default True: a `SyncDenylistMirror` that starts on first use).

    Raises:
        KeyError: a required key is missing (its name is the message).
    """
    redis_client = None
    if config["denylist_redis_url"]:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        timeout = float(config.get("redis_timeout", 0.5))
        redis_client = redis.Redis.from_url(
            config["denylist_redis_url"],
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 1),  # one immediate retry (a stale pooled connection), never seconds of backoff
        )
    mirror = None
    if redis_client is not None and config.get("denylist_mirror", True):
        mirror = SyncDenylistMirror(redis_client, autostart=True)  # its thread starts on the first check, per process
    return SyncTokenVerifier(
        jwks_url=config["jwks_url"],
        issuer=config["issuer"],
        audience=config["audience"],
        http_client=httpx.Client(timeout=float(config.get("http_timeout", 3.0)), follow_redirects=False),
        denylist_redis=redis_client,
        leeway=config.get("leeway", 30),
        refetch_cooldown=config.get("refetch_cooldown", 30),
        denylist_failure=config.get("denylist_failure", "closed"),
        denylist_mirror=mirror,
    )


def get_verifier() -> SyncTokenVerifier:
    """The process's verifier, built on first use from `settings.PLATFORM_TOKEN_VERIFIER`."""
    global _verifier
    if _verifier is None:
        with _verifier_lock:
            if _verifier is None:
                from django.conf import settings

                _verifier = build_verifier(settings.PLATFORM_TOKEN_VERIFIER)
    return _verifier


def set_verifier(verifier: SyncTokenVerifier | None) -> None:
    """Install a verifier (tests, custom wiring); None makes the next use rebuild it from settings.

    The replaced verifier's deny-list mirror, if any, is stopped.
    """
    global _verifier
    with _verifier_lock:
        previous, _verifier = _verifier, verifier
    mirror = getattr(previous, "denylist_mirror", None)
    if mirror is not None and mirror is not getattr(verifier, "denylist_mirror", None):
        mirror.stop()


def request_claims(request: Any) -> Claims | None:
    """The verified claims of a Django request's Bearer token, verified once per request.

    Args:
        request: a Django `HttpRequest` (or a DRF `Request`, whose wrapped request is used).

    Returns:
        The claims; None when the request carries no Bearer token.

    Raises:
        TokenError: the token was refused, or could not be checked (`status` 503).
    """
    django_request = getattr(request, "_request", request)
    memo = getattr(django_request, _MEMO, None)
    if memo is None:
        try:
            token = extract_bearer(django_request.META.get("HTTP_AUTHORIZATION"))
            memo = (None if token is None else get_verifier().verify(token), None)
        except TokenError as exc:
            memo = (None, exc)
        setattr(django_request, _MEMO, memo)
    claims, error = memo
    if error is not None:
        raise error
    return claims


@dataclass(frozen=True, eq=False)
class PlatformUser:
    """The token's subject as DRF's `request.user`: no database row behind it.

    `id` is the user's UUID, or the client id (a string) for a service token.
    """

    id: uuid.UUID | str
    roles: tuple[str, ...]
    tier: str | None
    claims: Claims

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False

    @classmethod
    def from_claims(cls, claims: Claims) -> PlatformUser:
        try:
            ident: uuid.UUID | str = uuid.UUID(claims.sub)
        except ValueError:
            ident = claims.sub
        return cls(id=ident, roles=claims.roles, tier=claims.tier, claims=claims)

    @property
    def pk(self) -> uuid.UUID | str:
        return self.id

    @property
    def is_service(self) -> bool:
        return self.claims.is_service

    def has_role(self, *roles: str) -> bool:
        return self.claims.has_role(*roles)

    def get_username(self) -> str:
        return str(self.id)

    def __str__(self) -> str:
        return str(self.id)


class PlatformClaimsMiddleware:
    """Sets `request.platform_claims` (verified `Claims`, or None when absent, invalid or
    unverifiable) and `request.platform_token_error` (the `TokenError`, or None) for every view.

    It never answers on its own: views decide whether a token is required.
    """

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        try:
            request.platform_claims, request.platform_token_error = request_claims(request), None
        except TokenError as exc:
            request.platform_claims, request.platform_token_error = None, exc
        return self.get_response(request)


def _build_authentication_class() -> type:
    from rest_framework import exceptions
    from rest_framework.authentication import BaseAuthentication

    class AuthUnavailable(exceptions.APIException):
        status_code = 503
        default_detail = "Sign-in cannot be checked right now; try again shortly."
        default_code = "auth_unavailable"

    class PlatformTokenAuthentication(BaseAuthentication):
        """DRF authentication by platform access token: `request.user` is a `PlatformUser`,
        `request.auth` the `Claims`. No Bearer header: None, so other authenticators may run.

        Raises (from `authenticate`):
            AuthenticationFailed: a refused token (401, code `token_invalid`/`token_expired`/`token_revoked`).
            AuthUnavailable: the token could not be checked (503, code `auth_unavailable`).
        """

        def authenticate(self, request: Any) -> tuple[PlatformUser, Claims] | None:
            try:
                claims = request_claims(request)
            except TokenError as exc:
                if exc.status == 503:
                    raise AuthUnavailable(exc.detail, exc.code) from None
                raise exceptions.AuthenticationFailed(exc.detail, exc.code) from None
            if claims is None:
                return None
            return PlatformUser.from_claims(claims), claims

        def authenticate_header(self, request: Any) -> str:
            memo = getattr(getattr(request, "_request", request), _MEMO, None)
            if memo is not None and memo[1] is not None:
                return 'Bearer error="invalid_token"'
            return "Bearer"

    PlatformTokenAuthentication.AuthUnavailable = AuthUnavailable  # type: ignore[attr-defined]
    return PlatformTokenAuthentication


def __getattr__(name: str) -> Any:
    # DRF (and Django settings) are imported only when the class is first asked for, e.g. by
    # REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"].
    if name == "PlatformTokenAuthentication":
        cls = _build_authentication_class()
        globals()[name] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
