"""Fixtures for attacking the platform's tokens through the edge.

Forged tokens are signed with the auth service's REAL signing key (read from its database and
opened with the stack's key-encryption key), so each attack is refused for the claim it breaks,
not merely for a bad signature.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import jwt
import pytest

from auth_service.db import create_engine, create_sessionmaker
from auth_service.key_encryption import KeyEncryptor
from auth_service.keyring import KeyRing, Signer


def login(edge: httpx.Client, email: str, password: str) -> dict[str, Any]:
    response = edge.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="session")
def signer(stack_env: Callable[[str], str]) -> Signer:
    async def load() -> Signer:
        engine = create_engine(stack_env("AUTH_DATABASE_URL"))
        try:
            ring = KeyRing(create_sessionmaker(engine), KeyEncryptor(stack_env("AUTH_KEY_ENCRYPTION_KEY")), refresh_seconds=60)
            await ring.refresh()
            return ring.signer
        finally:
            await engine.dispose()

    return asyncio.run(load())


@pytest.fixture(scope="session")
def member_session(stack_env: Callable[[str], str], edge_url: str) -> dict[str, Any]:
    """A real sign-in of the demo member: its access token is the template every forgery starts from."""
    with httpx.Client(base_url=edge_url, timeout=10) as client:
        return login(client, stack_env("PLATFORM_DEMO_MEMBER_EMAIL"), stack_env("PLATFORM_DEMO_MEMBER_PASSWORD"))


@pytest.fixture(scope="session")
def member_claims(member_session: dict[str, Any]) -> dict[str, Any]:
    return jwt.decode(member_session["access_token"], options={"verify_signature": False})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture(scope="session")
def forge(signer: Signer, member_claims: dict[str, Any]) -> Callable[..., str]:
    """Sign the member's claims, changed as asked, with the real key (headers may be changed too)."""

    def make(*, drop: tuple[str, ...] = (), headers: dict[str, Any] | None = None, **changes: Any) -> str:
        now = int(time.time())
        claims = {**member_claims, "iat": now, "nbf": now, "exp": now + 600, "jti": str(uuid.uuid4()), **changes}
        for name in drop:
            claims.pop(name, None)
        header = {"kid": signer.kid, "typ": "at+jwt", **(headers or {})}
        return jwt.encode(claims, signer.key, algorithm="EdDSA", headers=header)

    return make


@pytest.fixture(scope="session")
def unsigned() -> Callable[[dict[str, Any], dict[str, Any]], str]:
    """A token with any header and claims and no signature at all (`alg: none` style)."""

    def make(header: dict[str, Any], claims: dict[str, Any]) -> str:
        return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}."

    return make


def register(edge: httpx.Client) -> dict[str, Any]:
    """A new member registered and signed in through the edge: email, password and token pair."""
    email = f"e2e-{uuid.uuid4().hex[:12]}@example.org"
    password = f"Pw-{uuid.uuid4().hex}"
    assert edge.post("/api/v1/auth/register", json={"email": email, "password": password}).status_code == 202
    return {"email": email, "password": password, **login(edge, email, password)}


@pytest.fixture
def fresh_member(edge: httpx.Client) -> Iterator[dict[str, Any]]:
    """A member of its own (registered through the edge), for tests that revoke or delete sessions."""
    yield register(edge)


@pytest.fixture(scope="module")
def owner(edge_url: str) -> dict[str, Any]:
    """A member who owns the resources a module's tests ask for as somebody else."""
    with httpx.Client(base_url=edge_url, timeout=10) as client:
        return register(client)


@pytest.fixture(scope="module")
def intruder(edge_url: str) -> dict[str, Any]:
    """Another member, signed in for real: everything of `owner` must look absent to them."""
    with httpx.Client(base_url=edge_url, timeout=10) as client:
        return register(client)


@pytest.fixture(scope="module")
def expired_token_of(forge: Callable[..., str]) -> Callable[[str], str]:
    """The same claims as a genuine access token, re-signed with the real key an hour past expiry."""

    def make(genuine: str) -> str:
        now = int(time.time())
        claims = jwt.decode(genuine, options={"verify_signature": False})
        return forge(**{**claims, "iat": now - 7200, "nbf": now - 7200, "exp": now - 3600, "jti": str(uuid.uuid4())})

    return make
