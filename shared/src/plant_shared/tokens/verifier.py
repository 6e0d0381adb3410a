"""The verifiers: `TokenVerifier` (async, FastAPI) and `SyncTokenVerifier` (sync, Django/DRF).

Both run the same pure steps (`read_header`, `decode_and_validate`, `check_denylist`); only the
I/O differs: the JWKS fetch and the deny-list read. With a fresh deny-list mirror
(`plant_shared.tokens.denylist`) the deny-list is read from memory; otherwise with one `MGET`.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Iterator, Literal

import httpx
from jwt import PyJWK
from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector
from redis.exceptions import RedisError

from plant_shared.tokens.checks import check_denylist, decode_and_validate, read_header
from plant_shared.tokens.claims import MAX_LEEWAY, TOKEN_REVOKED, Claims, TokenError, _unavailable
from plant_shared.tokens.denylist import DENYLIST_FALLBACKS, DenylistMirror, DenylistVerdict, SyncDenylistMirror
from plant_shared.tokens.jwks import JwksCache, SyncJwksCache
from plant_shared.tokens.memory import Verified, VerifiedTokens

log = logging.getLogger("plant_shared.tokens")


class VerificationOutcomes(Collector):
    """`token_verifications_total{outcome}`: "ok" or the refusal's code, read at scrape time.

    "ok" is counted on every authenticated request, so it is a plain integer per thread (each
    thread writes only its own, so no lock and no lost increment): a prometheus_client `Counter`
    takes a lock and runs its checks on every `inc`, a tenth of what verifying a reused token
    costs in a request. Refusals are rare and counted under a lock.
    """

    def __init__(self) -> None:
        self._ok_by_thread: dict[int, int] = {}
        self._refused: dict[str, int] = {}
        self._lock = threading.Lock()

    def ok(self) -> None:
        thread = threading.get_ident()
        self._ok_by_thread[thread] = self._ok_by_thread.get(thread, 0) + 1

    def refused(self, code: str) -> None:
        with self._lock:
            self._refused[code] = self._refused.get(code, 0) + 1

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily("token_verifications", "Access tokens verified, by outcome.", labels=["outcome"])
        family.add_metric(["ok"], sum(list(self._ok_by_thread.values())))
        with self._lock:
            refused = sorted(self._refused.items())
        for code, count in refused:
            family.add_metric([code], count)
        yield family


VERIFICATIONS = VerificationOutcomes()
REGISTRY.register(VERIFICATIONS)

_REDIS_ERRORS = (RedisError, OSError, TimeoutError)


DenylistFailure = Literal["closed", "open"]


class _VerifierBase:
    """Options, the verified-token memory and the deny-list failure policy, shared by both verifiers."""

    jwks: JwksCache | SyncJwksCache
    _redis: Any | None  # where the MGET reads the deny-list; None: no deny-list check at all

    def __init__(
        self, *, issuer: str, audience: str, leeway: float, denylist_failure: DenylistFailure, has_denylist: bool, verified_cache_size: int
    ) -> None:
        if not 0 <= leeway <= MAX_LEEWAY:
            raise ValueError(f"leeway must be between 0 and {MAX_LEEWAY} seconds")
        if denylist_failure not in ("closed", "open"):
            raise ValueError('denylist_failure must be "closed" or "open"')
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self.denylist_failure = denylist_failure
        self.verified_tokens = VerifiedTokens(verified_cache_size)
        self._mirror: DenylistMirror | SyncDenylistMirror | None = None
        if not has_denylist:
            log.warning("token verifier without a deny-list: revoked tokens are accepted until they expire")

    @property
    def verified_cache_size(self) -> int:
        return self.verified_tokens.size

    def _decode(self, token: str, key: PyJWK) -> Claims:
        return decode_and_validate(token, key, issuer=self.issuer, audience=self.audience, leeway=self.leeway)

    @property
    def denylist_mirror(self) -> DenylistMirror | SyncDenylistMirror | None:
        return self._mirror

    def settled(self, token: str) -> Claims | None:
        """The claims of `token` when memory alone settles it; None: call `verify`.

        Settled: this verifier verified exactly this text before, it is unexpired, its key is
        still published, and the deny-list needs no read (the mirror is fresh and has no entry
        for it, or there is no deny-list at all). That is the usual request, a client sending
        its token again, answered with no I/O and nothing to await. Anything else (a new token,
        an entry in the mirror, a mirror that is not fresh, the `MGET`) is `verify`'s to decide.
        """
        mirror = self._mirror
        if mirror is None and self._redis is not None:
            return None  # the deny-list is read with an MGET
        verified = self.verified_tokens.recall(token, time.time(), self.jwks.knows)
        if verified is None or (mirror is not None and not mirror.clears(verified.denylist_keys)):
            return None
        VERIFICATIONS.ok()
        return verified.claims

    def _mirror_verdict(self, verified: Verified) -> bool:
        """True when the mirror settled the deny-list check (allowed); False: ask Redis.

        Raises:
            TokenError: `token_revoked`, from the mirror's entries.
        """
        mirror = self._mirror
        if mirror.clears(verified.denylist_keys):  # type: ignore[union-attr]
            return True
        verdict = mirror.check(verified.claims, verified.denylist_keys)  # type: ignore[union-attr]
        if verdict is DenylistVerdict.ALLOWED:
            return True
        if verdict is DenylistVerdict.REVOKED:
            raise TokenError(TOKEN_REVOKED, "The access token has been revoked.")
        DENYLIST_FALLBACKS.inc()
        return False

    def _denylist_unreachable(self, exc: BaseException) -> None:
        log.warning("token deny-list unreachable", extra={"error": type(exc).__name__, "policy": self.denylist_failure})
        if self.denylist_failure == "closed":
            raise _unavailable("Sign-in cannot be checked right now; try again shortly.") from None


class TokenVerifier(_VerifierBase):
    """Verify access tokens in async code (FastAPI): `await verifier.verify(token)`.

    Create one per process in the lifespan, with long-lived clients.

    Every call checks, in order: the header (`read_header`), the key (JWKS cache), the signature
    and claims (`decode_and_validate`), then the deny-list: from `denylist_mirror` while it is
    fresh (memory only, no I/O), otherwise with one `MGET`. A token whose
    signature and claims this process already verified (`verified_tokens`: the exact same text,
    at most `verified_cache_size` remembered) skips the header, key and signature steps while it
    is unexpired and its key is still published; the expiry (with the leeway) and the deny-list
    are checked on every call, so revocation stays immediate.

    The mirror (`DenylistMirror`, started and stopped in the lifespan) holds the deny-list in
    memory, kept current from the `deny:events` channel the writers publish on (`deny()`). It is
    used only while `fresh` (subscribed and loaded); while it starts, reconnects or re-loads, each
    verification reads Redis as without it, so revocation is immediate either way.

    When the deny-list cannot be read (Redis down or timing out), the default
    `denylist_failure="closed"` refuses the token with `auth_unavailable` (503): accepting it could
    accept a revoked token (logout, stolen token, deleted account) for up to its whole lifetime,
    and the outage is visible and short. `"open"` accepts it and logs a warning, for callers that
    prefer availability. Give the Redis client a small `socket_timeout` and
    `socket_connect_timeout` (a few hundred ms) and `retry=Retry(NoBackoff(), 1)`: redis-py's
    default retry backs off for seconds before giving up, which would hold every request that
    long during an outage. The verifier does not cancel Redis calls itself (redis-py cancellation
    hazards, CVE-2023-28858).

    Args:
        jwks_url: the auth service's JWKS address.
        issuer: the accepted `iss`.
        audience: this service's audience (`identify-gateway`, `cms`, ...).
        http_client: long-lived `httpx.AsyncClient` with explicit timeouts, for the JWKS.
        denylist_redis: `redis.asyncio.Redis` on the deny-list database, for the `MGET`; None
            with a mirror: the mirror's client; None without one disables the deny-list check
            (tools and tests only: revoked tokens then pass).
        leeway: clock skew tolerated, in seconds (0 to 60).
        refetch_cooldown: minimum seconds between two JWKS fetches.
        denylist_failure: `"closed"` (default) or `"open"`, see above.
        verified_cache_size: distinct verified tokens remembered (0: verify the signature every time).
        denylist_mirror: a `DenylistMirror` on the same deny-list (optional); the caller starts
            and stops it.
    """

    def __init__(
        self,
        *,
        jwks_url: str,
        issuer: str,
        audience: str,
        http_client: httpx.AsyncClient,
        denylist_redis: Any | None,
        leeway: float = 30,
        refetch_cooldown: float = 30,
        denylist_failure: DenylistFailure = "closed",
        verified_cache_size: int = 4096,
        denylist_mirror: DenylistMirror | None = None,
    ) -> None:
        if denylist_mirror is not None and not isinstance(denylist_mirror, DenylistMirror):
            raise TypeError("TokenVerifier needs an asyncio DenylistMirror")
        super().__init__(
            issuer=issuer,
            audience=audience,
            leeway=leeway,
            denylist_failure=denylist_failure,
            has_denylist=denylist_redis is not None or denylist_mirror is not None,
            verified_cache_size=verified_cache_size,
        )
        self.jwks = JwksCache(jwks_url=jwks_url, http_client=http_client, refetch_cooldown=refetch_cooldown)
        self._mirror = denylist_mirror
        self._redis = denylist_redis if denylist_redis is not None or denylist_mirror is None else denylist_mirror.redis

    async def verify(self, token: str) -> Claims:
        """The claims of a valid, unrevoked access token meant for this service.

        Raises:
            TokenError: refused (`token_invalid`, `token_expired`, `token_revoked`, 401) or not
                checkable right now (`auth_unavailable`, 503).
        """
        try:
            verified = self.verified_tokens.recall(token, time.time(), self.jwks.knows)
            if verified is None:
                kid = read_header(token)
                verified = self.verified_tokens.remember(token, self._decode(token, await self.jwks.get(kid)), kid, self.leeway)
            claims = verified.claims
            if self._mirror is not None and self._mirror_verdict(verified):
                pass  # fresh mirror, no entry: no I/O
            elif self._redis is not None:
                try:
                    values = await self._redis.mget(verified.denylist_keys)
                except _REDIS_ERRORS as exc:
                    self._denylist_unreachable(exc)
                else:
                    check_denylist(claims, values)
        except TokenError as exc:
            VERIFICATIONS.refused(exc.code)
            raise
        VERIFICATIONS.ok()
        return claims


class SyncTokenVerifier(_VerifierBase):
    """`TokenVerifier` for synchronous code (Django/DRF): same checks, same memory, same failure policy.

    Thread-safe: one instance per process, shared by every request thread.

    Args:
        http_client: long-lived `httpx.Client` with explicit timeouts, for the JWKS.
        denylist_redis: sync `redis.Redis` on the deny-list database (with `socket_timeout`),
            or None (the mirror's client with a mirror; no deny-list check without one).
        denylist_mirror: a `SyncDenylistMirror` (optional); started by the caller, or by its
            first `check` with `autostart=True`.
        Others: as `TokenVerifier`.
    """

    def __init__(
        self,
        *,
        jwks_url: str,
        issuer: str,
        audience: str,
        http_client: httpx.Client,
        denylist_redis: Any | None,
        leeway: float = 30,
        refetch_cooldown: float = 30,
        denylist_failure: DenylistFailure = "closed",
        verified_cache_size: int = 4096,
        denylist_mirror: SyncDenylistMirror | None = None,
    ) -> None:
        if denylist_mirror is not None and not isinstance(denylist_mirror, SyncDenylistMirror):
            raise TypeError("SyncTokenVerifier needs a SyncDenylistMirror")
        super().__init__(
            issuer=issuer,
            audience=audience,
            leeway=leeway,
            denylist_failure=denylist_failure,
            has_denylist=denylist_redis is not None or denylist_mirror is not None,
            verified_cache_size=verified_cache_size,
        )
        self.jwks = SyncJwksCache(jwks_url=jwks_url, http_client=http_client, refetch_cooldown=refetch_cooldown)
        self._mirror = denylist_mirror
        self._redis = denylist_redis if denylist_redis is not None or denylist_mirror is None else denylist_mirror.redis

    def verify(self, token: str) -> Claims:
        """Same contract as `TokenVerifier.verify`."""
        try:
            verified = self.verified_tokens.recall(token, time.time(), self.jwks.knows)
            if verified is None:
                kid = read_header(token)
                verified = self.verified_tokens.remember(token, self._decode(token, self.jwks.get(kid)), kid, self.leeway)
            claims = verified.claims
            if self._mirror is not None and self._mirror_verdict(verified):
                pass  # fresh mirror, no entry: no I/O
            elif self._redis is not None:
                try:
                    values = self._redis.mget(verified.denylist_keys)
                except _REDIS_ERRORS as exc:
                    self._denylist_unreachable(exc)
                else:
                    check_denylist(claims, values)
        except TokenError as exc:
            VERIFICATIONS.refused(exc.code)
            raise
        VERIFICATIONS.ok()
        return claims
