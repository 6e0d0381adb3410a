"""The verified-token memory: a reused token skips the signature check, never the expiry or the deny-list."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

import plant_shared.tokens.verifier as verifier_module
from plant_shared.tokens import Claims, TokenError, decode_and_validate
from plant_shared.tokens.memory import VerifiedTokens


@pytest.fixture
def decodes(monkeypatch) -> list[str]:
    calls: list[str] = []
    real = verifier_module.decode_and_validate

    def counting(token, key, **options):
        calls.append(token)
        return real(token, key, **options)

    monkeypatch.setattr(verifier_module, "decode_and_validate", counting)
    return calls


async def test_a_reused_token_is_decoded_once(key, verifier, decodes) -> None:
    token = key.mint()

    first = await verifier.verify(token)
    again = [await verifier.verify(token) for _ in range(10)]

    assert len(decodes) == 1
    assert all(claims == first for claims in again)


async def test_without_the_memory_every_call_decodes(key, make_verifier, decodes) -> None:
    verifier = make_verifier(verified_cache_size=0)
    token = key.mint()

    for _ in range(3):
        await verifier.verify(token)

    assert len(decodes) == 3


async def test_a_remembered_token_revoked_later_is_refused(key, verifier, denylist) -> None:
    claims = key.claims()
    token = key.mint(claims)
    await verifier.verify(token)

    await denylist(f"deny:sid:{claims['sid']}")

    with pytest.raises(TokenError) as caught:
        await verifier.verify(token)
    assert caught.value.code == "token_revoked"


@pytest.mark.parametrize("revocation", ["jti", "subject cut-off"])
async def test_a_remembered_token_revoked_by_jti_or_subject_cut_off_is_refused(key, verifier, denylist, revocation) -> None:
    claims = key.claims()
    token = key.mint(claims)
    await verifier.verify(token)

    if revocation == "jti":
        await denylist(f"deny:jti:{claims['jti']}")
    else:
        await denylist(f"deny:sub:{claims['sub']}", claims["iat"])  # log out everywhere: issued at or before

    with pytest.raises(TokenError) as caught:
        await verifier.verify(token)
    assert caught.value.code == "token_revoked"


async def test_a_remembered_token_that_expires_is_refused(key, make_verifier) -> None:
    verifier = make_verifier(leeway=0)
    now = int(time.time())
    token = key.mint(iat=now - 60, nbf=now - 60, exp=now + 1)
    await verifier.verify(token)

    await asyncio.sleep(now + 1.05 - time.time())

    with pytest.raises(TokenError) as caught:
        await verifier.verify(token)
    assert caught.value.code == "token_expired"


async def test_a_remembered_token_whose_key_was_withdrawn_is_refused(key, jwks, make_verifier, kit) -> None:
    verifier = make_verifier(refetch_cooldown=0.2)
    old_token = key.mint()
    await verifier.verify(old_token)
    new = kit.SigningKey()
    jwks.entries[:] = [new.jwk]  # the old key is withdrawn (compromised)
    await asyncio.sleep(0.25)
    await verifier.verify(new.mint())  # unknown kid: refetched, the old key is dropped

    with pytest.raises(TokenError) as caught:
        await verifier.verify(old_token)
    assert caught.value.code == "token_invalid"


async def test_the_memory_is_bounded(key, make_verifier) -> None:
    verifier = make_verifier(verified_cache_size=3)

    for _ in range(10):
        await verifier.verify(key.mint())

    assert len(verifier.verified_tokens) == 3


async def test_a_forged_variant_of_a_remembered_token_is_not_recalled(key, verifier) -> None:
    token = key.mint()
    await verifier.verify(token)
    header, payload, signature = token.split(".")

    # A middle character, guaranteed different (trailing base64 characters may be only padding bits).
    forged = signature[:20] + ("A" if signature[20] != "A" else "B") + signature[21:]

    with pytest.raises(TokenError):
        await verifier.verify(f"{header}.{payload}.{forged}")


async def test_a_tampered_payload_under_a_remembered_tokens_signature_is_refused(key, kit, verifier) -> None:
    claims = key.claims()
    token = key.mint(claims)
    await verifier.verify(token)
    header, _, signature = token.split(".")
    raised = kit.b64url(json.dumps({**claims, "tier": "enterprise", "roles": ["admin"]}).encode())

    with pytest.raises(TokenError) as caught:
        await verifier.verify(f"{header}.{raised}.{signature}")

    assert caught.value.code == "token_invalid"
    assert (await verifier.verify(token)).tier == "free"  # the genuine one is still remembered as it was


def test_a_remembered_entry_is_usable_until_exp_plus_leeway_and_then_forgotten(key) -> None:
    memory = VerifiedTokens(8)
    claims = decode_and_validate(key.mint(), key.public, issuer="plant-community-auth", audience="identify-gateway")
    entry = memory.remember("the-token", claims, key.kid, leeway=30)
    always = lambda kid: True  # noqa: E731

    assert entry.usable_until == claims.exp + 30
    assert memory.recall("the-token", claims.exp + 29.999, always) is entry
    assert memory.recall("the-token", claims.exp + 30, always) is None  # PyJWT: expired once exp <= now - leeway
    assert len(memory) == 0  # forgotten: the next call takes the full path, which answers token_expired


def test_a_memory_of_size_zero_remembers_nothing(key) -> None:
    memory = VerifiedTokens(0)
    claims = decode_and_validate(key.mint(), key.public, issuer="plant-community-auth", audience="identify-gateway")

    entry = memory.remember("the-token", claims, key.kid, leeway=30)

    assert entry.claims is claims and len(memory) == 0
    assert memory.recall("the-token", 0.0, lambda kid: True) is None


def test_the_memory_forgets_the_oldest_first() -> None:
    memory = VerifiedTokens(2)
    claims = Claims(sub="s", jti="j", sid=None, roles=(), tier=None, scope="user", aud=("a",), iat=0, exp=10**10)

    for token in ("first", "second", "third"):
        memory.remember(token, claims, "kid", leeway=0)

    known = lambda kid: True  # noqa: E731
    assert [memory.recall(t, 0.0, known) is not None for t in ("first", "second", "third")] == [False, True, True]
