"""Who may identify, and how often: tokens, anonymous callers, per-tier rate limits, concurrency caps.

- A token is verified locally (`plant_shared.tokens`, JWKS of the auth service, deny-list).
- Without a token: 401 with the seed's sentence, unless `GATEWAY_ANONYMOUS_ALLOWED` (a setting of
  its own, not tied to DEBUG); anonymous callers are then limited per client IP, the IP being the
  last `X-Forwarded-For` hop written by the trusted edge.
- Users are limited per tier over a sliding window (429 with the seed's sentence, `Retry-After`
  and `RateLimit-*`); paid tiers also have a cap on identifications in flight at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from typing import Annotated

from fastapi import Depends, Request

from identify_gateway.config import Settings
from identify_gateway.deps import ResourcesDep
from identify_gateway.resilience import ConcurrencyLimiter, RateDecision, RateLimiter
from plant_shared.errors import ApiError
from plant_shared.fastapi_support import bearer_claims
from plant_shared.tokens import Claims, TokenVerifier

AUTH_REQUIRED = "Authentication required for plant identification. Please log in or create an account to identify plants."  # the seed's


def throttled_sentence(seconds: int) -> str:
    return f"Request was throttled. Expected available in {seconds} seconds."  # the seed's


@dataclass(frozen=True)
class Caller:
    user_id: uuid.UUID | None  # None: anonymous
    tier: str | None
    ip: str

    @property
    def limit_key(self) -> str:
        return f"ip:{self.ip}" if self.user_id is None else f"user:{self.user_id}"


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[IPv4Network | IPv6Network, ...]:
    """The trusted proxies parsed once per setting, not on every request (it showed in profiles)."""
    return tuple(ip_network(proxy, strict=False) for proxy in proxies)


def client_ip(request: Request, trusted_proxies: Iterable[str]) -> str:
    """The client address: the last `X-Forwarded-For` hop when the peer is the trusted edge, else the peer.

    Earlier hops are written by the client and can be forged, so they are ignored. (Behind uvicorn's
    own proxy-header handling the peer is already the client, which is not a trusted proxy.)
    """
    peer = request.client.host if request.client else None
    if peer is None:
        return "unknown"
    try:
        peer_address = ip_address(peer)
        trusted = any(peer_address in network for network in _networks(tuple(trusted_proxies)))
    except ValueError:
        return peer
    if not trusted:
        return peer
    last = ",".join(request.headers.getlist("x-forwarded-for")).rsplit(",", 1)[-1].strip()
    try:
        return str(ip_address(last))
    except ValueError:
        return peer


def _verifier(request: Request) -> TokenVerifier:
    return request.app.resources.verifier


optional_bearer = bearer_claims(_verifier, required=False, missing_detail=AUTH_REQUIRED)
required_bearer = bearer_claims(_verifier, required=True, missing_detail="Authentication required.")
job_bearer = bearer_claims(_verifier, required=True, missing_detail=AUTH_REQUIRED)


def _user_id(claims: Claims) -> uuid.UUID:
    if claims.is_service:
        raise ApiError(403, "Identification needs a user's token, not a service token.", "permission_denied")
    try:
        return uuid.UUID(claims.sub)
    except ValueError:
        raise ApiError(401, "The access token's subject is not a user id.", "token_invalid", headers={"WWW-Authenticate": "Bearer"}) from None


async def identify_caller(request: Request, resources: ResourcesDep, claims: Annotated[Claims | None, Depends(optional_bearer)]) -> Caller:
    """The caller of an identification: a verified user, or an anonymous client when allowed."""
    settings = resources.settings
    ip = client_ip(request, settings.trusted_proxies)
    if claims is None:
        if not settings.anonymous_allowed:
            raise ApiError(401, AUTH_REQUIRED, "not_authenticated", headers={"WWW-Authenticate": "Bearer"})
        return Caller(user_id=None, tier=None, ip=ip)
    return Caller(user_id=_user_id(claims), tier=claims.tier, ip=ip)


async def job_caller(request: Request, resources: ResourcesDep, claims: Annotated[Claims, Depends(job_bearer)]) -> Caller:
    """The caller of an asynchronous identification: always a user (the job has an owner)."""
    return Caller(user_id=_user_id(claims), tier=claims.tier, ip=client_ip(request, resources.settings.trusted_proxies))


def user_of(claims: Claims) -> uuid.UUID | None:
    """The user id of a user's token; None for a service token or a subject that is not a user id."""
    if claims.is_service:
        return None
    try:
        return uuid.UUID(claims.sub)
    except ValueError:
        return None


def is_admin(claims: Claims, settings: Settings) -> bool:
    return not claims.is_service and claims.has_role(*settings.admin_roles)


async def history_owner(claims: Annotated[Claims, Depends(required_bearer)]) -> uuid.UUID:
    """The user whose history is asked for (a token is always required)."""
    return _user_id(claims)


IdentifyCaller = Annotated[Caller, Depends(identify_caller)]
JobCaller = Annotated[Caller, Depends(job_caller)]
HistoryOwner = Annotated[uuid.UUID, Depends(history_owner)]


@dataclass(frozen=True)
class Admission:
    """A request let through: its rate decision (for the headers) and its concurrency lease, if any."""

    caller: Caller
    decision: RateDecision
    lease: str | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {k: v for k, v in self.decision.headers().items() if k != "Retry-After"}


def throttled(retry_after_s: int, headers: dict[str, str]) -> ApiError:
    seconds = max(1, retry_after_s)
    return ApiError(429, throttled_sentence(seconds), "throttled", headers={**headers, "Retry-After": str(seconds)})


class IdentifyGate:
    """Rate and concurrency limits of the identification endpoint.

    Args:
        settings: limits per tier, anonymous limit, window, concurrency caps.
        limiter: the shared rate limiter; concurrency: the shared concurrency limiter.
    """

    def __init__(self, settings: Settings, limiter: RateLimiter, concurrency: ConcurrencyLimiter) -> None:
        self._settings = settings
        self._limiter = limiter
        self._concurrency = concurrency

    def limit_for(self, caller: Caller) -> int:
        return self._settings.anonymous_limit if caller.user_id is None else self._settings.tier_limit(caller.tier)

    async def admit(self, caller: Caller, *, cost: int = 1, member: str | None = None, concurrency: bool = True) -> Admission:
        """Count the request against the caller's window and take a concurrency slot (paid tiers).

        Args:
            caller: who asks.
            cost: identifications this request is (the plants of a batch job).
            member: names the units, so exactly these can be refunded (`RateLimiter.refund`).
            concurrency: take a concurrency slot (the sync path); jobs wait in their queue instead.

        Raises:
            ApiError: 429 `throttled` with `Retry-After` and `RateLimit-*`.
        """
        settings = self._settings
        decision = await self._limiter.hit(caller.limit_key, limit=self.limit_for(caller), window_s=settings.rate_limit_window_s, cost=cost, member=member)
        if not decision.allowed:
            raise throttled(decision.retry_after_s, decision.headers())
        admission = Admission(caller, decision)
        cap = settings.tier_concurrency.get(caller.tier or "") if caller.user_id is not None else None
        if cap is None or not concurrency:
            return admission
        lease = await self._concurrency.acquire(caller.limit_key, limit=cap, lease_s=settings.concurrency_lease_s)
        if lease is None:
            await self._limiter.refund(caller.limit_key)  # refused for being busy: it used no identification
            raise throttled(1, admission.headers)
        return Admission(caller, decision, lease)

    async def finish(self, admission: Admission, *, refund: bool = False) -> None:
        """Free the concurrency slot; give the unit back when the request got no answer (engines down)."""
        if admission.lease is not None:
            await self._concurrency.release(admission.caller.limit_key, admission.lease)
        if refund:
            await self._limiter.refund(admission.caller.limit_key)
