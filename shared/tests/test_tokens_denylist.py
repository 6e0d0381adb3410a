"""The deny-list, in the real Redis: `deny:jti:`, `deny:sid:`, `deny:sub:` read in one MGET."""

from __future__ import annotations

import time

import pytest

from plant_shared.tokens import TokenError, check_denylist, denylist_keys


async def revoked(verifier, token: str) -> TokenError:
    with pytest.raises(TokenError) as caught:
        await verifier.verify(token)
    assert caught.value.code == "token_revoked" and caught.value.status == 401
    return caught.value


async def test_a_denied_jti_is_revoked(key, verifier, denylist) -> None:
    claims = key.claims()
    await denylist(f"deny:jti:{claims['jti']}")

    await revoked(verifier, key.mint(claims))


async def test_a_denied_token_family_is_revoked(key, verifier, denylist) -> None:
    claims = key.claims()
    await denylist(f"deny:sid:{claims['sid']}")

    await revoked(verifier, key.mint(claims))


@pytest.mark.parametrize("offset", [0, 1, 3600])
async def test_a_subject_denied_at_or_after_the_token_was_issued_is_revoked(key, verifier, denylist, offset) -> None:
    claims = key.claims()
    await denylist(f"deny:sub:{claims['sub']}", claims["iat"] + offset)

    await revoked(verifier, key.mint(claims))


async def test_a_token_issued_after_the_subject_cutoff_passes(key, verifier, denylist) -> None:
    # Given: "log out everywhere" a minute ago; then the user signed in again
    claims = key.claims()
    await denylist(f"deny:sub:{claims['sub']}", claims["iat"] - 60)

    verified = await verifier.verify(key.mint(claims))

    assert verified.sub == claims["sub"]


async def test_a_fractional_cutoff_is_compared_as_a_time(key, verifier, denylist) -> None:
    claims = key.claims()
    await denylist(f"deny:sub:{claims['sub']}", f"{claims['iat'] - 0.5}")

    assert (await verifier.verify(key.mint(claims))).sub == claims["sub"]


async def test_an_unreadable_subject_cutoff_counts_as_revoked(key, verifier, denylist) -> None:
    claims = key.claims()
    await denylist(f"deny:sub:{claims['sub']}", "yesterday")

    await revoked(verifier, key.mint(claims))


async def test_another_users_deny_entries_do_not_touch_this_token(key, verifier, denylist) -> None:
    other = key.claims()
    await denylist(f"deny:jti:{other['jti']}")
    await denylist(f"deny:sid:{other['sid']}")
    await denylist(f"deny:sub:{other['sub']}", int(time.time()) + 60)

    assert (await verifier.verify(key.mint())).sub


async def test_a_service_token_is_checked_on_jti_and_sub(key, verifier, denylist) -> None:
    token = key.service_token(jti="svc-jti-" + str(time.time_ns()))
    claims = await verifier.verify(token)
    await denylist(f"deny:jti:{claims.jti}")

    await revoked(verifier, token)


async def test_the_three_keys_are_read_in_one_mget(key, make_verifier, redis_client) -> None:
    calls: list[tuple[str, ...]] = []

    class Recording:
        async def mget(self, keys):
            calls.append(tuple(keys))
            return await redis_client.mget(keys)

    claims = key.claims()
    await make_verifier(denylist_redis=Recording()).verify(key.mint(claims))

    assert calls == [(f"deny:jti:{claims['jti']}", f"deny:sid:{claims['sid']}", f"deny:sub:{claims['sub']}")]


def test_denylist_keys_skip_sid_for_service_tokens(key) -> None:
    from plant_shared.tokens import Claims

    claims = Claims(sub="svc", jti="j", sid=None, roles=(), tier=None, scope="internal", aud=("cms",), iat=1, exp=2)

    assert denylist_keys(claims) == ["deny:jti:j", "deny:sub:svc"]
    check_denylist(claims, [None, b"0"])  # cutoff before iat: passes
    with pytest.raises(TokenError):
        check_denylist(claims, [None, b"1"])


async def test_redis_down_fails_closed_with_auth_unavailable(key, make_verifier, dead_redis) -> None:
    verifier = make_verifier(denylist_redis=dead_redis)
    started = time.perf_counter()

    with pytest.raises(TokenError) as caught:
        await verifier.verify(key.mint())

    assert caught.value.code == "auth_unavailable" and caught.value.status == 503
    assert time.perf_counter() - started < 1.0  # answers at once, no backoff


async def test_redis_down_with_the_open_policy_accepts_the_token(key, make_verifier, dead_redis) -> None:
    verifier = make_verifier(denylist_redis=dead_redis, denylist_failure="open")

    assert (await verifier.verify(key.mint())).sub


async def test_an_invalid_token_is_refused_before_redis_is_asked(key, make_verifier, dead_redis) -> None:
    verifier = make_verifier(denylist_redis=dead_redis)

    with pytest.raises(TokenError) as caught:
        await verifier.verify(key.mint(iss="someone-else"))

    assert caught.value.code == "token_invalid"


def test_options_are_checked(make_verifier) -> None:
    with pytest.raises(ValueError):
        make_verifier(denylist_failure="maybe")
    with pytest.raises(ValueError):
        make_verifier(leeway=3600)
