"""Service clients (client credentials): register one, and check a presented id and secret.

Secrets are high-entropy (32 characters at least), so a SHA-256 hash is enough to store them:
no one can guess a preimage, and checking costs microseconds, not an Argon2 run.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.models import ServiceClient

MIN_SECRET_LENGTH = 32
_CLIENT_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
# Compared against when the client id is unknown, so unknown and known ids take the same path.
_NO_CLIENT_HASH = hashlib.sha256(b"no such client").hexdigest()

Outcome = Literal["created", "updated", "unchanged"]


class InvalidServiceClientError(ValueError):
    """A client id or secret that cannot be registered; the message says why."""


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_client_id(client_id: str) -> str:
    if not _CLIENT_ID.match(client_id):
        raise InvalidServiceClientError("client id: 1-64 characters, lower case letters, digits, '.', '_' or '-'")
    return client_id


@dataclass(frozen=True)
class Registration:
    client_id: str
    audiences: list[str]
    outcome: Outcome


async def register_client(session: AsyncSession, *, client_id: str, secret: str, audiences: list[str]) -> Registration:
    """Create the client, or bring it to this secret and these audiences (idempotent). Commits.

    Raises:
        InvalidServiceClientError: a malformed id or audience, or a short secret.
    """
    check_client_id(client_id)
    for audience in audiences:
        check_client_id(audience)
    if len(secret) < MIN_SECRET_LENGTH:
        raise InvalidServiceClientError(f"the secret must have {MIN_SECRET_LENGTH} characters at least")
    wanted = sorted(set(audiences))
    existing = await session.scalar(select(ServiceClient).where(ServiceClient.client_id == client_id).with_for_update())
    if existing is not None:
        if hmac.compare_digest(existing.secret_hash, hash_secret(secret)) and sorted(existing.audiences) == wanted:
            await session.commit()
            return Registration(client_id, wanted, "unchanged")
        existing.secret_hash = hash_secret(secret)
        existing.audiences = wanted
        await session.commit()
        return Registration(client_id, wanted, "updated")
    # ON CONFLICT: two set-up runs at once both end with one row (the later one's values).
    await session.execute(
        insert(ServiceClient)
        .values(client_id=client_id, secret_hash=hash_secret(secret), audiences=wanted)
        .on_conflict_do_update(index_elements=["client_id"], set_={"secret_hash": hash_secret(secret), "audiences": wanted})
    )
    await session.commit()
    return Registration(client_id, wanted, "created")


async def authenticate_client(session: AsyncSession, client_id: str, secret: str) -> ServiceClient | None:
    """The client when the id exists and the secret matches; None otherwise (constant-time compare)."""
    plausible = len(client_id) <= 64 and "\x00" not in client_id
    client = await session.get(ServiceClient, client_id) if plausible else None
    stored = client.secret_hash if client is not None else _NO_CLIENT_HASH
    matches = hmac.compare_digest(stored, hash_secret(secret))
    return client if client is not None and matches else None
