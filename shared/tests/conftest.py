"""Token test kit: signing keys made here, a JWKS served through httpx.MockTransport, real Redis.

Redis: `SHARED_TEST_REDIS_URL` (the test stack sets it: `make test`); every key a test writes has a
fresh UUID in it and a TTL, and is deleted afterwards.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import socket
import time
import uuid
from types import SimpleNamespace
from typing import Any, AsyncIterator, Callable

import httpx
import jwt
import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from plant_shared.tokens import TokenVerifier

REDIS_URL = os.environ.get("SHARED_TEST_REDIS_URL", "")
if not REDIS_URL:
    pytest.exit(
        "the shared tests need a real Redis: run them through `make test`, or set SHARED_TEST_REDIS_URL, "
        "e.g. SHARED_TEST_REDIS_URL=redis://127.0.0.1:16380/5",
        returncode=2,
    )
ISSUER = "plant-community-auth"
AUDIENCE = "identify-gateway"
JWKS_URL = "http://auth.test/.well-known/jwks.json"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class SigningKey:
    """An Ed25519 key like the auth service's: `kid` is the RFC 7638 thumbprint."""

    def __init__(self) -> None:
        self.private = Ed25519PrivateKey.generate()
        self.public = self.private.public_key()
        x = b64url(self.public.public_bytes_raw())
        self.kid = b64url(
            hashlib.sha256(json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"), sort_keys=True).encode()).digest()
        )
        self.jwk = {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": self.kid, "use": "sig", "alg": "EdDSA"}

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": ["auth-service", "identify-gateway", "cms"],
            "sub": str(uuid.uuid4()),
            "exp": now + 3600,
            "iat": now,
            "nbf": now,
            "jti": str(uuid.uuid4()),
            "sid": str(uuid.uuid4()),
            "roles": ["member"],
            "tier": "free",
            "scope": "user",
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def mint(self, claims: dict[str, Any] | None = None, *, headers: dict[str, Any] | None = None, **overrides: Any) -> str:
        """A signed access token; `overrides` set claims (None removes one), `headers` the header."""
        payload = claims if claims is not None else self.claims(**overrides)
        return jwt.encode(payload, self.private, algorithm="EdDSA", headers={"kid": self.kid, "typ": "at+jwt", **(headers or {})})

    def service_token(self, audience: str = AUDIENCE, **overrides: Any) -> str:
        now = int(time.time())
        return self.mint(
            {
                "iss": ISSUER,
                "aud": audience,
                "sub": "svc-cms",
                "client_id": "svc-cms",
                "scope": "internal",
                "exp": now + 300,
                "iat": now,
                "nbf": now,
                "jti": str(uuid.uuid4()),
                **overrides,
            }
        )


def unsigned(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    return ".".join([b64url(json.dumps(header).encode()), b64url(json.dumps(payload).encode()), b64url(signature)])


class JwksEndpoint:
    """The auth service's JWKS, behind an httpx.MockTransport that counts the requests."""

    def __init__(self, *keys: SigningKey) -> None:
        self.entries: list[dict[str, Any]] = [k.jwk for k in keys]
        self.requests = 0
        self.status = 200
        self.body: bytes | None = None  # raw override
        self.delay = 0.0
        self.unreachable = False

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.unreachable:
            raise httpx.ConnectError("connection refused", request=request)
        if self.delay:
            await asyncio.sleep(self.delay)
        body = self.body if self.body is not None else json.dumps({"keys": self.entries}).encode()
        return httpx.Response(self.status, content=body, headers={"content-type": "application/json"})

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self._handle), timeout=2.0)


@pytest.fixture
def key() -> SigningKey:
    return SigningKey()


@pytest.fixture
def jwks(key: SigningKey) -> JwksEndpoint:
    return JwksEndpoint(key)


@pytest.fixture
async def denylist() -> AsyncIterator[Callable[..., Any]]:
    """`await deny("deny:jti:<jti>", value)`: writes a deny-list key (TTL 60 s), removed after the test."""
    client = aioredis.from_url(REDIS_URL)
    written: list[str] = []

    async def deny(name: str, value: str | int | float = "1") -> None:
        written.append(name)
        await client.set(name, value, ex=60)

    yield deny
    if written:
        await client.delete(*written)
    await client.aclose()


@pytest.fixture
async def redis_client() -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(REDIS_URL, socket_timeout=1.0)
    yield client
    await client.aclose()


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def dead_redis() -> AsyncIterator[aioredis.Redis]:
    """A client for a Redis that is not there (connection refused), configured as the verifier
    docstring recommends: one immediate retry, so an outage answers fast."""
    client = aioredis.Redis(
        host="127.0.0.1", port=unused_port(), socket_connect_timeout=0.5, socket_timeout=0.5, retry=AsyncRetry(NoBackoff(), 1)
    )
    yield client
    await client.aclose()


@pytest.fixture
def make_verifier(jwks: JwksEndpoint, redis_client: aioredis.Redis) -> Callable[..., TokenVerifier]:
    def make(**options: Any) -> TokenVerifier:
        settings: dict[str, Any] = {
            "jwks_url": JWKS_URL,
            "issuer": ISSUER,
            "audience": AUDIENCE,
            "http_client": jwks.client(),
            "denylist_redis": redis_client,
        }
        settings.update(options)
        return TokenVerifier(**settings)

    return make


@pytest.fixture
def verifier(make_verifier: Callable[..., TokenVerifier]) -> TokenVerifier:
    return make_verifier()


@pytest.fixture
def kit() -> SimpleNamespace:
    """The helpers above, for test modules (the importlib import mode cannot import conftest)."""
    return SimpleNamespace(
        SigningKey=SigningKey,
        JwksEndpoint=JwksEndpoint,
        unsigned=unsigned,
        b64url=b64url,
        unused_port=unused_port,
        REDIS_URL=REDIS_URL,
        ISSUER=ISSUER,
        AUDIENCE=AUDIENCE,
        JWKS_URL=JWKS_URL,
    )
