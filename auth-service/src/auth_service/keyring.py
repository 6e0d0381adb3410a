"""The process's signing keys in memory: the loaded signer, the published public keys, the JWKS.

Built once in the lifespan. Private keys are parsed once per key (when a key first becomes the
signer in this process), never per request; public keys come from their JWK, not from PEM.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from auth_service import signing_keys
from auth_service.key_encryption import KeyDecryptionError, KeyEncryptor
from auth_service.token_contract import LEEWAY_SECONDS

log = logging.getLogger(__name__)

# A token with an unknown `kid` may re-read the keys at most this often (not once per forged token).
UNKNOWN_KID_COOLDOWN_SECONDS = 30.0


@dataclass(frozen=True)
class Signer:
    kid: str
    key: Ed25519PrivateKey


class NoSigningKeyError(RuntimeError):
    """No active signing key in the database (run the service once, or `rotate-signing-key`)."""


def publication_margin(*, access_ttl_seconds: int, refresh_seconds: float) -> timedelta:
    """How long a retired key stays published: its last token's lifetime, plus the time other
    processes may still sign with it before their next refresh, plus the verifiers' leeway."""
    return timedelta(seconds=access_ttl_seconds + refresh_seconds + LEEWAY_SECONDS)


class KeyRing:
    """Signer and public keys of this process, refreshed from PostgreSQL every `refresh_seconds`.

    Args:
        sessionmaker: sessions on the service's database.
        encryptor: opens the signer's stored private key.
        refresh_seconds: period of the background refresh (`run_refresh_loop`).
    """

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], encryptor: KeyEncryptor, *, refresh_seconds: float) -> None:
        self._sessionmaker = sessionmaker
        self._encryptor = encryptor
        self._refresh_seconds = refresh_seconds
        self._signer: Signer | None = None
        self._public: dict[str, Ed25519PublicKey] = {}
        self._jwks = b'{"keys":[]}'
        self._lock = asyncio.Lock()
        self._last_unknown_kid_refresh = float("-inf")

    @property
    def signer(self) -> Signer:
        if self._signer is None:
            raise NoSigningKeyError("the key ring was not loaded")
        return self._signer

    @property
    def jwks(self) -> bytes:
        """The JWKS document (`{"keys": [...]}`), serialised once per refresh."""
        return self._jwks

    def public_key(self, kid: str) -> Ed25519PublicKey | None:
        return self._public.get(kid)

    async def start(self) -> None:
        """Create the first key when there is none, then load. Called once in the lifespan."""
        async with self._sessionmaker() as session:
            if await signing_keys.ensure_signing_key(session, self._encryptor):
                log.info("created the first signing key")
        await self.refresh()

    async def refresh(self) -> None:
        """Re-read the live keys; parse a private key only when the signer changed."""
        async with self._lock:
            async with self._sessionmaker() as session:
                rows = await signing_keys.live_keys(session, now=datetime.now(UTC))
            public = {row.kid: self._public.get(row.kid) or signing_keys.public_key_from_jwk(row.public_jwk) for row in rows}
            active = next((row for row in rows if row.retired_at is None), None)
            if active is None:
                raise NoSigningKeyError("no active signing key: run `auth-service rotate-signing-key`")
            if self._signer is None or self._signer.kid != active.kid:
                try:
                    pem = self._encryptor.open(active.kid, active.private_key_encrypted)
                except KeyDecryptionError as exc:
                    raise NoSigningKeyError(f"{exc}; run `auth-service rotate-signing-key` to make a new signing key") from None
                self._signer = Signer(kid=active.kid, key=signing_keys.load_private_key(pem))
                log.info("signing with key %s", active.kid)
            self._public = public
            self._jwks = json.dumps({"keys": [row.public_jwk for row in rows]}, separators=(",", ":")).encode()

    async def refresh_for_unknown_kid(self) -> bool:
        """Refresh because a token named a `kid` we do not hold; at most once per cool-down.

        Returns:
            True when a refresh ran.
        """
        now = time.monotonic()
        if now - self._last_unknown_kid_refresh < UNKNOWN_KID_COOLDOWN_SECONDS:
            return False
        self._last_unknown_kid_refresh = now
        await self.refresh()
        return True

    @property
    def loaded(self) -> bool:
        return self._signer is not None

    def ensure_loaded(self) -> None:
        """Raises:
        NoSigningKeyError: no signer yet (answered 503), so callers fail before writing anything.
        """
        if self._signer is None:
            raise NoSigningKeyError("no signing key loaded yet")

    async def run_refresh_loop(self) -> None:
        """Refresh forever (a lifespan task). A failed refresh keeps the keys already loaded; a
        ring that never loaded (database away at startup) keeps trying to start."""
        while True:
            await asyncio.sleep(self._refresh_seconds)
            try:
                await (self.refresh() if self.loaded else self.start())
            except Exception:  # the database may be away for a moment; the loaded keys still work
                log.exception("signing-key refresh failed; keeping the loaded keys")
