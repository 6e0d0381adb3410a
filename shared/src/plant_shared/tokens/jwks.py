"""The JWKS cache: public keys by `kid`, loaded once, refetched rarely (async and sync variants)."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from typing import Any, Callable, NoReturn

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from jwt import PyJWK
from prometheus_client import Counter

from plant_shared.tokens.checks import check_kid
from plant_shared.tokens.claims import _KID, ALGORITHM, MAX_JWKS_BYTES, MAX_KEYS, _invalid, _unavailable

log = logging.getLogger("plant_shared.tokens")

JWKS_FETCHES = Counter("jwks_fetches_total", "JWKS documents fetched, by outcome.", ["outcome"])


def parse_jwks(document: Any) -> dict[str, PyJWK]:
    """The usable keys of a JWKS document, by `kid`, each loaded once here.

    Kept: `kty` `OKP`, `crv` `Ed25519`, a well-formed `kid`, `alg` `EdDSA` and `use` `sig` when
    present, a public key only. Everything else is ignored; at most `MAX_KEYS` keys.

    Raises:
        ValueError: the document is not a JWKS (no `keys` list).
    """
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ValueError("not a JWKS document")
    keys: dict[str, PyJWK] = {}
    for entry in entries:
        if len(keys) >= MAX_KEYS:
            break
        if not isinstance(entry, dict):
            continue
        kid = entry.get("kid")
        if (
            not isinstance(kid, str)
            or not _KID.fullmatch(kid)
            or kid in keys
            or entry.get("kty") != "OKP"
            or entry.get("crv") != "Ed25519"
            or entry.get("alg", ALGORITHM) != ALGORITHM
            or entry.get("use", "sig") != "sig"
            or "d" in entry  # a private key has no business in a JWKS
        ):
            continue
        try:
            jwk = PyJWK(dict(entry), algorithm=ALGORITHM)
        except (jwt.PyJWTError, ValueError, TypeError):
            continue
        if isinstance(jwk.key, Ed25519PublicKey):
            keys[kid] = jwk
    return keys


# --- the JWKS cache ---------------------------------------------------------------------------


class _KeySet:
    """The state and rules both caches share; subclasses add the fetch and the lock."""

    def __init__(self, *, jwks_url: str, refetch_cooldown: float, clock: Callable[[], float]) -> None:
        self.jwks_url = jwks_url
        self.refetch_cooldown = refetch_cooldown
        self._clock = clock
        self._keys: dict[str, PyJWK] = {}
        self._last_attempt: float | None = None
        self._last_ok = False
        self.fetches = 0  # attempts, for tests and the bench

    @property
    def kids(self) -> frozenset[str]:
        return frozenset(self._keys)

    def knows(self, kid: str) -> bool:
        return kid in self._keys

    def _may_fetch(self) -> bool:
        return self._last_attempt is None or self._clock() - self._last_attempt >= self.refetch_cooldown

    def _begin_fetch(self) -> None:
        self._last_attempt = self._clock()
        self.fetches += 1

    def _install(self, body: bytes) -> None:
        keys = parse_jwks(json.loads(body))
        if not keys:
            raise ValueError("the JWKS holds no usable Ed25519 key")
        self._keys = keys  # replaces: a key removed from the JWKS stops verifying after a refetch

    def _fetch_done(self, error: Exception | None) -> bool:
        self._last_ok = error is None
        JWKS_FETCHES.labels("ok" if error is None else "error").inc()
        if error is not None:
            log.warning("JWKS fetch failed", extra={"jwks_url": self.jwks_url, "error": type(error).__name__})
        return self._last_ok

    def _miss(self) -> NoReturn:
        if not self._last_ok:
            raise _unavailable("The token signing keys cannot be fetched right now; try again shortly.")
        raise _invalid("The access token is signed with an unknown key.")


def _check_response(response: httpx.Response) -> None:
    response.raise_for_status()
    if response.status_code != 200:
        raise ValueError(f"unexpected status {response.status_code}")


def _append_bounded(body: bytearray, chunk: bytes) -> None:
    body += chunk
    if len(body) > MAX_JWKS_BYTES:
        raise ValueError("the JWKS document is too large")


class JwksCache(_KeySet):
    """Public keys by `kid`, each loaded once; refetched only for an unknown `kid`, at most once
    per `refetch_cooldown` seconds, in one shared fetch however many callers wait on it.

    Args:
        jwks_url: the auth service's `/.well-known/jwks.json`.
        http_client: a long-lived client with explicit timeouts (redirects are not followed).
        refetch_cooldown: minimum seconds between two fetches.
        clock: monotonic clock (tests).
    """

    def __init__(
        self, *, jwks_url: str, http_client: httpx.AsyncClient, refetch_cooldown: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(jwks_url=jwks_url, refetch_cooldown=refetch_cooldown, clock=clock)
        self._http = http_client
        self._lock = asyncio.Lock()

    async def get(self, kid: str) -> PyJWK:
        """The key for `kid`.

        Raises:
            TokenError: `token_invalid` for a malformed or unknown `kid` (before any lookup or
                fetch for a malformed one); `auth_unavailable` when the JWKS could not be fetched.
        """
        key = self._keys.get(check_kid(kid))
        if key is not None:
            return key
        async with self._lock:  # single flight: late callers find the key, or the cool-down
            key = self._keys.get(kid)
            if key is None and self._may_fetch():
                await self._fetch()
                key = self._keys.get(kid)
        if key is None:
            self._miss()
        return key

    async def refresh(self) -> bool:
        """Fetch now, ignoring the cool-down (start-up warm-up). Returns whether it succeeded."""
        async with self._lock:
            return await self._fetch()

    async def _fetch(self) -> bool:
        self._begin_fetch()
        try:
            body = bytearray()
            async with self._http.stream("GET", self.jwks_url, headers={"Accept": "application/json"}) as response:
                _check_response(response)
                async for chunk in response.aiter_bytes():
                    _append_bounded(body, chunk)
            self._install(bytes(body))
        except Exception as exc:  # noqa: BLE001 - whatever failed, the keys are unavailable (503), never a 500
            return self._fetch_done(exc)
        return self._fetch_done(None)


class SyncJwksCache(_KeySet):
    """`JwksCache` for synchronous code (Django): same rules, a `threading.Lock`, an `httpx.Client`."""

    def __init__(
        self, *, jwks_url: str, http_client: httpx.Client, refetch_cooldown: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(jwks_url=jwks_url, refetch_cooldown=refetch_cooldown, clock=clock)
        self._http = http_client
        self._lock = threading.Lock()

    def get(self, kid: str) -> PyJWK:
        """Same contract as `JwksCache.get`."""
        key = self._keys.get(check_kid(kid))
        if key is not None:
            return key
        with self._lock:
            key = self._keys.get(kid)
            if key is None and self._may_fetch():
                self._fetch()
                key = self._keys.get(kid)
        if key is None:
            self._miss()
        return key

    def refresh(self) -> bool:
        with self._lock:
            return self._fetch()

    def _fetch(self) -> bool:
        self._begin_fetch()
        try:
            body = bytearray()
            with self._http.stream("GET", self.jwks_url, headers={"Accept": "application/json"}) as response:
                _check_response(response)
                for chunk in response.iter_bytes():
                    _append_bounded(body, chunk)
            self._install(bytes(body))
        except Exception as exc:  # noqa: BLE001 - whatever failed, the keys are unavailable (503), never a 500
            return self._fetch_done(exc)
        return self._fetch_done(None)
