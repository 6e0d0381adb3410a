"""The JWKS cache: keys loaded once, refetch only for an unknown kid, cool-down, single flight."""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import httpx
import pytest

import plant_shared.tokens.jwks as jwks_module
from plant_shared.tokens import JwksCache, TokenError, TokenVerifier, parse_jwks


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_the_jwks_is_fetched_once_and_the_key_built_once_for_1000_verifications(key, jwks, verifier, monkeypatch) -> None:
    # Given: PyJWK construction counted (the only place a JWK becomes a key object)
    built = []
    real = jwks_module.PyJWK

    def counting(*args, **kwargs):
        built.append(args[0].get("kid"))
        return real(*args, **kwargs)

    monkeypatch.setattr(jwks_module, "PyJWK", counting)

    # When: 1,000 verifications of distinct tokens
    for _ in range(1000):
        await verifier.verify(key.mint())

    # Then
    assert jwks.requests == 1
    assert built == [key.kid]


async def test_concurrent_first_requests_share_one_fetch(key, jwks, verifier) -> None:
    jwks.delay = 0.05

    results = await asyncio.gather(*(verifier.verify(key.mint()) for _ in range(50)))

    assert len(results) == 50
    assert jwks.requests == 1


async def test_an_unknown_kid_within_the_cooldown_of_the_first_fetch_is_refused_without_a_fetch(key, jwks, verifier, kit) -> None:
    await verifier.verify(key.mint())

    with pytest.raises(TokenError) as caught:
        await verifier.verify(kit.SigningKey().mint())

    assert caught.value.code == "token_invalid" and "unknown key" in caught.value.detail
    assert jwks.requests == 1


async def test_an_unknown_kid_refetches_once_then_the_cooldown_holds(key, jwks, make_verifier, kit) -> None:
    verifier = make_verifier(refetch_cooldown=0.2)
    await verifier.verify(key.mint())
    await asyncio.sleep(0.25)

    # When: a token signed by a key the JWKS does not hold, the cool-down having passed
    with pytest.raises(TokenError) as first:
        await verifier.verify(kit.SigningKey().mint())
    # Then: one refetch, then refused
    assert first.value.code == "token_invalid" and "unknown key" in first.value.detail
    assert jwks.requests == 2

    # When: another unknown kid within the cool-down
    with pytest.raises(TokenError):
        await verifier.verify(kit.SigningKey().mint())
    # Then: no fetch at all
    assert jwks.requests == 2


async def test_concurrent_unknown_kids_share_one_refetch(key, jwks, make_verifier, kit) -> None:
    verifier = make_verifier(refetch_cooldown=0.2)
    await verifier.verify(key.mint())
    await asyncio.sleep(0.25)
    jwks.delay = 0.05
    strangers = [kit.SigningKey() for _ in range(20)]

    outcomes = await asyncio.gather(*(verifier.verify(s.mint()) for s in strangers), return_exceptions=True)

    assert all(isinstance(o, TokenError) and o.code == "token_invalid" for o in outcomes)
    assert jwks.requests == 2


async def test_after_the_cooldown_an_unknown_kid_is_fetched_again_and_a_new_key_is_found(key, jwks, kit) -> None:
    clock = FakeClock()
    cache = JwksCache(jwks_url=kit.JWKS_URL, http_client=jwks.client(), refetch_cooldown=30, clock=clock)
    await cache.get(key.kid)
    rotated = kit.SigningKey()
    clock.now += 31

    with pytest.raises(TokenError):
        await cache.get(rotated.kid)  # refetched (first unknown), not there yet
    jwks.entries.append(rotated.jwk)  # the auth service rotates
    clock.now += 10
    with pytest.raises(TokenError):
        await cache.get(rotated.kid)  # within the cool-down: not fetched
    assert jwks.requests == 2

    clock.now += 21
    found = await cache.get(rotated.kid)

    assert found.key_id == rotated.kid
    assert jwks.requests == 3


@pytest.mark.parametrize(
    "kid",
    ["../../etc/passwd", "1' OR '1'='1", "a;DROP TABLE keys", "k" * 65, "kid\n", "kid%00", "ключ", "", " ", "a/b", "a.b", 42, None, ["a"]],
)
async def test_a_kid_with_path_or_sql_characters_is_refused_before_any_fetch(key, jwks, verifier, kit, kid) -> None:
    token = kit.unsigned({"alg": "EdDSA", "typ": "at+jwt", "kid": kid}, key.claims(), b"x" * 64)

    with pytest.raises(TokenError) as caught:
        await verifier.verify(token)

    assert caught.value.code == "token_invalid"
    assert "key id" in caught.value.detail or not isinstance(kid, str)  # PyJWT itself refuses a non-string kid
    assert jwks.requests == 0


async def test_a_missing_kid_is_refused_before_any_fetch(key, jwks, verifier) -> None:
    import jwt

    token = jwt.encode(key.claims(), key.private, algorithm="EdDSA", headers={"typ": "at+jwt"})

    with pytest.raises(TokenError):
        await verifier.verify(token)
    assert jwks.requests == 0


async def test_two_published_keys_both_verify_during_rotation(key, jwks, verifier, kit) -> None:
    new = kit.SigningKey()
    jwks.entries.append(new.jwk)

    old_claims = await verifier.verify(key.mint())
    new_claims = await verifier.verify(new.mint())

    assert old_claims.sub and new_claims.sub
    assert jwks.requests == 1
    assert verifier.jwks.kids == {key.kid, new.kid}


async def test_a_key_dropped_from_the_jwks_stops_verifying_after_a_refetch(key, jwks, kit) -> None:
    clock = FakeClock()
    cache = JwksCache(jwks_url=kit.JWKS_URL, http_client=jwks.client(), refetch_cooldown=30, clock=clock)
    await cache.get(key.kid)
    new = kit.SigningKey()
    jwks.entries[:] = [new.jwk]
    clock.now += 31

    await cache.get(new.kid)  # unknown: refetched, the old key is gone

    assert cache.kids == {new.kid}


def test_only_ed25519_signature_keys_are_taken_from_the_jwks(key, kit) -> None:
    good = key.jwk
    other = kit.SigningKey().jwk
    document = {
        "keys": [
            "not a dict",
            {**other, "kid": "oct-key", "kty": "oct", "k": kit.b64url(b"secret" * 8), "alg": "HS256"},
            {**other, "kid": "rsa-key", "kty": "RSA", "n": "sXch", "e": "AQAB", "alg": "RS256"},
            {**other, "kid": "ed448", "crv": "Ed448"},
            {**other, "kid": "wrong-alg", "alg": "HS256"},
            {**other, "kid": "for-encryption", "use": "enc"},
            {**other, "kid": "private", "d": kit.b64url(b"\x00" * 32)},
            {**other, "kid": "../evil"},
            {**other, "kid": "broken-x", "x": "AAAA"},
            {k: v for k, v in other.items() if k != "kid"},
            good,
            {**other, "kid": good["kid"]},  # a duplicate kid: the first one wins
            {k: v for k, v in other.items() if k not in ("alg", "use")} | {"kid": "no-alg-no-use"},
        ]
    }

    keys = parse_jwks(document)

    assert set(keys) == {good["kid"], "no-alg-no-use"}
    assert keys[good["kid"]].key.public_bytes_raw() == key.public.public_bytes_raw()


@pytest.mark.parametrize("document", [b"not json", b"[]", b'{"keys": "x"}', b'{"keys": []}', b'{"keys": [{"kty": "RSA"}]}', b"[" * 60000])
async def test_an_unusable_jwks_makes_tokens_unverifiable_not_crash(key, jwks, verifier, document) -> None:
    jwks.body = document

    with pytest.raises(TokenError) as caught:
        await verifier.verify(key.mint())

    assert caught.value.code == "auth_unavailable" and caught.value.status == 503


async def test_an_unreachable_jwks_makes_tokens_unverifiable(key, jwks, verifier) -> None:
    jwks.unreachable = True

    with pytest.raises(TokenError) as caught:
        await verifier.verify(key.mint())

    assert caught.value.code == "auth_unavailable" and caught.value.status == 503


async def test_an_oversized_jwks_is_refused(key, jwks, verifier) -> None:
    jwks.body = json.dumps({"keys": [key.jwk], "padding": "x" * 70_000}).encode()

    with pytest.raises(TokenError) as caught:
        await verifier.verify(key.mint())

    assert caught.value.code == "auth_unavailable"


async def test_a_failing_jwks_endpoint_gives_503_and_known_keys_keep_working(key, jwks, make_verifier, kit) -> None:
    verifier = make_verifier(refetch_cooldown=0.2)
    await verifier.verify(key.mint())
    await asyncio.sleep(0.25)
    jwks.status = 500

    with pytest.raises(TokenError) as caught:
        await verifier.verify(kit.SigningKey().mint())
    still = await verifier.verify(key.mint())

    assert caught.value.code == "auth_unavailable"
    assert still.sub


async def test_refresh_warms_the_cache_ahead_of_the_first_request(key, jwks, verifier) -> None:
    assert await verifier.jwks.refresh() is True

    await verifier.verify(key.mint())

    assert jwks.requests == 1


# --- the real client path: an HTTP server on a socket ----------------------------------------


@pytest.fixture
def jwks_http_server(key) -> Iterator[tuple[str, list[str]]]:
    body = json.dumps({"keys": [key.jwk]}).encode()
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            seen.append(self.path)
            self.send_response(200 if self.path == "/.well-known/jwks.json" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json", seen
    server.shutdown()
    server.server_close()


async def test_keys_come_from_a_real_http_server(key, jwks_http_server, redis_client, kit) -> None:
    url, seen = jwks_http_server
    async with httpx.AsyncClient(timeout=2.0) as client:
        verifier = TokenVerifier(jwks_url=url, issuer=kit.ISSUER, audience=kit.AUDIENCE, http_client=client, denylist_redis=redis_client)

        claims = [await verifier.verify(key.mint()) for _ in range(20)]

    assert len(claims) == 20
    assert seen == ["/.well-known/jwks.json"]
