"""The synchronous verifier (what Django uses): the same checks, a thread-safe JWKS cache, sync Redis."""

from __future__ import annotations

import json
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from plant_shared.tokens import SyncTokenVerifier, TokenError


class SyncJwks:
    def __init__(self, *keys) -> None:
        self.entries = [k.jwk for k in keys]
        self.requests = 0
        self.delay = 0.0
        self._lock = threading.Lock()

    def _handle(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests += 1
        time.sleep(self.delay)
        return httpx.Response(200, content=json.dumps({"keys": self.entries}).encode())

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self._handle), timeout=2.0)


@pytest.fixture
def sync_jwks(key) -> SyncJwks:
    return SyncJwks(key)


@pytest.fixture
def sync_redis(kit):
    client = redis.Redis.from_url(kit.REDIS_URL, socket_timeout=1.0)
    yield client
    client.close()


@pytest.fixture
def make_sync(sync_jwks, sync_redis, kit):
    def make(**options) -> SyncTokenVerifier:
        settings = {
            "jwks_url": kit.JWKS_URL,
            "issuer": kit.ISSUER,
            "audience": "cms",
            "http_client": sync_jwks.client(),
            "denylist_redis": sync_redis,
        }
        return SyncTokenVerifier(**(settings | options))

    return make


def test_a_valid_token_verifies(key, make_sync) -> None:
    claims = make_sync().verify(key.mint(roles=["editor"]))

    assert claims.has_role("editor") and "cms" in claims.aud


@pytest.mark.parametrize(
    "forge",
    [
        lambda key, kit: kit.unsigned({"alg": "none", "typ": "at+jwt", "kid": key.kid}, key.claims()),
        lambda key, kit: key.mint(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200),
        lambda key, kit: key.mint(aud="identify-gateway"),
        lambda key, kit: key.mint(iss="other"),
        lambda key, kit: key.mint(headers={"typ": "JWT"}),
        lambda key, kit: key.mint(jti=None),
        lambda key, kit: kit.SigningKey().mint(),
        lambda key, kit: secrets.token_urlsafe(48),
        lambda key, kit: key.mint()[:-3],
    ],
    ids=["alg-none", "expired", "wrong-aud", "wrong-iss", "typ-JWT", "no-jti", "unknown-kid", "refresh-token", "truncated"],
)
def test_forged_tokens_are_refused(key, kit, make_sync, forge) -> None:
    with pytest.raises(TokenError) as caught:
        make_sync().verify(forge(key, kit))

    assert caught.value.status == 401


def test_threads_share_one_jwks_fetch_and_later_tokens_fetch_nothing(key, make_sync, sync_jwks) -> None:
    verifier = make_sync()
    sync_jwks.delay = 0.05

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda _: verifier.verify(key.mint()), range(64)))
    for _ in range(200):
        verifier.verify(key.mint())

    assert len(results) == 64
    assert sync_jwks.requests == 1


def test_a_malformed_kid_never_reaches_the_jwks(key, kit, make_sync, sync_jwks) -> None:
    token = kit.unsigned({"alg": "EdDSA", "typ": "at+jwt", "kid": "../../../jwks"}, key.claims(), b"s" * 64)

    with pytest.raises(TokenError):
        make_sync().verify(token)

    assert sync_jwks.requests == 0


def test_the_deny_list_revokes_by_sid(key, make_sync, sync_redis) -> None:
    claims = key.claims()
    sync_redis.set(f"deny:sid:{claims['sid']}", "1", ex=60)
    try:
        with pytest.raises(TokenError) as caught:
            make_sync().verify(key.mint(claims))
    finally:
        sync_redis.delete(f"deny:sid:{claims['sid']}")

    assert caught.value.code == "token_revoked"


def test_redis_down_fails_closed(key, kit, make_sync) -> None:
    dead = redis.Redis(host="127.0.0.1", port=kit.unused_port(), socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 1))

    with pytest.raises(TokenError) as caught:
        make_sync(denylist_redis=dead).verify(key.mint())

    assert caught.value.code == "auth_unavailable" and caught.value.status == 503


def test_a_remembered_token_revoked_later_is_refused(key, make_sync, sync_redis) -> None:
    verifier = make_sync()
    claims = key.claims()
    token = key.mint(claims)
    verifier.verify(token)
    assert len(verifier.verified_tokens) == 1

    sync_redis.set(f"deny:jti:{claims['jti']}", "1", ex=60)
    try:
        with pytest.raises(TokenError) as caught:
            verifier.verify(token)
    finally:
        sync_redis.delete(f"deny:jti:{claims['jti']}")

    assert caught.value.code == "token_revoked"
