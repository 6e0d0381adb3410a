"""Ed25519 signing keys in PostgreSQL: create, rotate, and list the live ones.

A key's life: created (it signs) → retired by a rotation (it stops signing, stays published) →
expired (`expires_at` passed: left out of the JWKS, its tokens have all expired).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.key_encryption import KeyEncryptor
from auth_service.models import SigningKey
from auth_service.token_contract import ALGORITHM

# Serialises key creation across processes (two servers starting on an empty table create one key).
_KEYS_LOCK_ID = 0x6175746B6579  # "authkey"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_jwk(public_key: Ed25519PublicKey) -> dict[str, str]:
    """The JWKS entry of a key: `kty` OKP, `crv` Ed25519, `x`, plus `kid`, `use` and `alg`."""
    x = b64url(public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": thumbprint(x), "use": "sig", "alg": ALGORITHM}


def thumbprint(x: str) -> str:
    """RFC 7638 thumbprint of an Ed25519 key: SHA-256 of the required members, sorted, no spaces."""
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode()).digest())


def public_key_from_jwk(jwk: dict[str, str]) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4)))


def load_private_key(pem: bytes) -> Ed25519PrivateKey:
    """Parse a PKCS#8 PEM. Called once per signing key per process, never per request."""
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise TypeError("a signing key must be Ed25519")
    return key


@dataclass(frozen=True)
class NewKey:
    row: SigningKey
    private_key: Ed25519PrivateKey


def new_signing_key(encryptor: KeyEncryptor) -> NewKey:
    """A fresh key and its row (not yet added to a session)."""
    private_key = Ed25519PrivateKey.generate()
    jwk = public_jwk(private_key.public_key())
    pem = private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    row = SigningKey(kid=jwk["kid"], private_key_encrypted=encryptor.seal(jwk["kid"], pem), public_jwk=jwk)
    return NewKey(row=row, private_key=private_key)


async def _lock(session: AsyncSession) -> None:
    await session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _KEYS_LOCK_ID})


async def ensure_signing_key(session: AsyncSession, encryptor: KeyEncryptor) -> bool:
    """Create a key when no active one exists; commits. True when one was created."""
    await _lock(session)
    active = await session.scalar(select(SigningKey.kid).where(SigningKey.retired_at.is_(None)).limit(1))
    if active is not None:
        await session.commit()
        return False
    session.add(new_signing_key(encryptor).row)
    await session.commit()
    return True


@dataclass(frozen=True)
class Rotation:
    new_kid: str
    retired: list[str]
    published_until: datetime


async def rotate_signing_key(session: AsyncSession, encryptor: KeyEncryptor, *, now: datetime, keep_published: timedelta) -> Rotation:
    """Make a new key the signer; retire the others, published for `keep_published` more. Commits."""
    await _lock(session)
    new = new_signing_key(encryptor)
    until = now + keep_published
    retired = list(
        await session.scalars(
            update(SigningKey)
            .where(SigningKey.retired_at.is_(None))
            .values(retired_at=now, expires_at=until)
            .returning(SigningKey.kid)
        )
    )
    new.row.created_at = now
    session.add(new.row)
    await session.commit()
    return Rotation(new_kid=new.row.kid, retired=retired, published_until=until)


async def live_keys(session: AsyncSession, *, now: datetime) -> list[SigningKey]:
    """Keys still published (not expired), newest first; the first unretired one is the signer."""
    rows = await session.scalars(
        select(SigningKey)
        .where(or_(SigningKey.expires_at.is_(None), SigningKey.expires_at > now))
        .order_by(SigningKey.created_at.desc(), SigningKey.kid)
    )
    return list(rows)
