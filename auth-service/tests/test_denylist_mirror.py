"""The deny-list as the verifiers see it: every revocation is announced on `deny:events` (so any
`DenylistMirror` on the same Redis has it at once), and the auth service verifies its own tokens
from its own mirror, with the shared verification steps and no JWKS fetch of itself.

All against the real Redis (`AUTH_DENYLIST_REDIS_URL`) and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import jwt
import pytest
from plant_shared.tokens import Claims, DenylistMirror, DenylistVerdict
from redis.asyncio import Redis

from auth_service.tokens_issue import issue_service_token

ME = "/api/v1/auth/me"
REFRESH = "/api/v1/auth/refresh"
SEEN_WITHIN = 0.1  # seconds: "immediately", for a mirror in another process
_LATER = 2**62


def probe(*, jti: str | None = None, sid: str | None = None, sub: str | None = None, iat: int = _LATER) -> Claims:
    """Claims that match one deny-list key only (the others are fresh random values)."""
    other = str(uuid.uuid4())
    return Claims(sub=sub or other, jti=jti or other, sid=sid, roles=(), tier=None, scope="", aud=(), iat=iat, exp=_LATER)


async def seen_after(mirror: DenylistMirror, claims: Claims, timeout: float = 1.0) -> float:
    """Seconds until `mirror` holds a matching entry (fails after `timeout`)."""
    started = time.monotonic()
    while mirror.check(claims) is not DenylistVerdict.REVOKED:
        assert time.monotonic() - started < timeout, "the mirror never saw the revocation"
        await asyncio.sleep(0.001)
    return time.monotonic() - started


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


@pytest.fixture
async def other_mirror(settings) -> AsyncIterator[DenylistMirror]:
    """A verifier's mirror (as another service runs it), fresh before the test acts.

    No periodic re-snapshot: once fresh, it can learn of a new key only from its `deny:events`.
    """
    redis = Redis.from_url(settings.denylist_redis_url, socket_timeout=2, socket_connect_timeout=2)
    mirror = DenylistMirror(redis, resync_interval=None, client_name="test-other-service-mirror")
    assert await mirror.start(wait=5.0), "the test mirror did not become fresh"
    yield mirror
    assert mirror.sessions == 1  # never re-loaded: what it saw came from the events
    await mirror.stop()
    await redis.aclose()


@pytest.fixture
async def app_and_client(settings, make_app, running):
    app = make_app(settings)
    async with running(app) as client:
        assert await app.state.denylist_mirror.wait_fresh(5.0), "the auth service's mirror did not become fresh"
        yield app, client


# --- 1. every revocation reaches the mirrors -------------------------------------------------


async def test_logout_is_seen_by_another_mirror_at_once(app_and_client, other_mirror, make_user, log_in, auth):
    _, client = app_and_client
    tokens = await log_in(client, await make_user())
    claims = claims_of(tokens["access_token"])

    response = await client.post("/api/v1/auth/logout", headers=auth(tokens["access_token"]))

    assert response.status_code == 204
    assert await seen_after(other_mirror, probe(jti=claims["jti"])) < SEEN_WITHIN
    assert await seen_after(other_mirror, probe(sid=claims["sid"])) < SEEN_WITHIN


async def test_logout_all_is_seen_by_another_mirror_at_once(app_and_client, other_mirror, make_user, log_in, auth):
    _, client = app_and_client
    account = await make_user()
    tokens = await log_in(client, account)
    issued_at = claims_of(tokens["access_token"])["iat"]

    response = await client.post("/api/v1/auth/logout-all", headers=auth(tokens["access_token"]))

    assert response.status_code == 204
    assert await seen_after(other_mirror, probe(sub=str(account.id), iat=issued_at)) < SEEN_WITHIN


async def test_family_revocation_on_refresh_reuse_is_seen_by_another_mirror_at_once(app_and_client, other_mirror, make_user, log_in):
    _, client = app_and_client
    first = await log_in(client, await make_user())
    sid = claims_of(first["access_token"])["sid"]
    assert (await client.post(REFRESH, json={"refresh_token": first["refresh_token"]})).status_code == 200

    replay = await client.post(REFRESH, json={"refresh_token": first["refresh_token"]})

    assert replay.status_code == 401
    assert await seen_after(other_mirror, probe(sid=sid)) < SEEN_WITHIN


async def test_admin_revocation_is_seen_by_another_mirror_at_once(app_and_client, other_mirror, make_user, log_in, auth):
    from auth_service.models import Role

    _, client = app_and_client
    admin = await log_in(client, await make_user(role=Role.ADMIN))
    member = await make_user()
    issued_at = claims_of((await log_in(client, member))["access_token"])["iat"]

    response = await client.post(f"/api/v1/auth/admin/users/{member.id}/revoke-sessions", headers=auth(admin["access_token"]))

    assert response.status_code == 204
    assert await seen_after(other_mirror, probe(sub=str(member.id), iat=issued_at)) < SEEN_WITHIN


async def test_entries_keep_the_contract_names_values_and_lifetimes(app_and_client, make_user, log_in, auth, denylist_redis):
    _, client = app_and_client
    account = await make_user()
    tokens = await log_in(client, account)
    claims = claims_of(tokens["access_token"])

    await client.post("/api/v1/auth/logout", headers=auth(tokens["access_token"]))
    await client.post("/api/v1/auth/logout-all", headers=auth((await log_in(client, account))["access_token"]))

    now = int(time.time())
    assert await denylist_redis.get(f"deny:jti:{claims['jti']}") == "1"
    assert now - 5 <= int(await denylist_redis.get(f"deny:sid:{claims['sid']}")) <= now
    assert now - 5 <= int(await denylist_redis.get(f"deny:sub:{account.id}")) <= now
    assert claims["exp"] - now < await denylist_redis.ttl(f"deny:jti:{claims['jti']}") <= claims["exp"] - now + 31
    for key in (f"deny:sid:{claims['sid']}", f"deny:sub:{account.id}"):
        assert 3600 < await denylist_redis.ttl(key) <= 3600 + 30


# --- 2. the auth service verifies its own tokens from its mirror ------------------------------


def counting_mget(app) -> list[list[str]]:
    """Record the verifier's deny-list `MGET`s (the fallback used while the mirror is not fresh)."""
    redis = app.state.denylist_redis
    calls: list[list[str]] = []
    original = redis.mget

    async def mget(keys, *args):
        calls.append(list(keys))
        return await original(keys, *args)

    redis.mget = mget
    return calls


async def test_a_fresh_mirror_answers_without_a_redis_round_trip(app_and_client, make_user, log_in, auth):
    app, client = app_and_client
    tokens = await log_in(client, await make_user())
    calls = counting_mget(app)

    for _ in range(3):
        assert (await client.get(ME, headers=auth(tokens["access_token"]))).status_code == 200

    assert calls == []


async def test_logout_is_refused_at_once_by_this_process_through_its_fresh_mirror(app_and_client, make_user, log_in, auth):
    # No I/O between the logout and the next request: the write waits for our own mirror.
    app, client = app_and_client
    tokens = await log_in(client, await make_user())
    calls = counting_mget(app)

    await client.post("/api/v1/auth/logout", headers=auth(tokens["access_token"]))
    response = await client.get(ME, headers=auth(tokens["access_token"]))

    assert response.status_code == 401
    assert response.json() == {"detail": "The access token has been revoked.", "code": "token_revoked"}
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert app.state.denylist_mirror.fresh and calls == []


async def test_without_a_fresh_mirror_each_request_reads_the_denylist(app_and_client, make_user, log_in, auth, denylist_redis):
    app, client = app_and_client
    tokens = await log_in(client, await make_user())
    claims = claims_of(tokens["access_token"])
    await app.state.denylist_mirror.stop()
    calls = counting_mget(app)

    assert (await client.get(ME, headers=auth(tokens["access_token"]))).status_code == 200
    await denylist_redis.set(f"deny:jti:{claims['jti']}", "1", ex=60)  # a bare SET: no mirror would see it
    refused = await client.get(ME, headers=auth(tokens["access_token"]))

    assert refused.status_code == 401 and refused.json()["code"] == "token_revoked"
    assert calls == [[f"deny:jti:{claims['jti']}", f"deny:sid:{claims['sid']}", f"deny:sub:{claims['sub']}"]] * 2


async def test_denylist_unreachable_without_a_mirror_is_503(settings, dead_redis_url, make_app, running):
    # Fail closed, as before: the token cannot be checked, so it is not accepted.
    app = make_app(settings.model_copy(update={"denylist_redis_url": dead_redis_url}))
    async with running(app) as client:
        token = issue_service_token(
            app.state.keyring.signer, issuer=settings.issuer, client_id="cms", audience="auth-service", ttl_seconds=300, now=int(time.time())
        ).token

        response = await client.get(ME, headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"


async def test_a_revocation_binds_this_process_as_soon_as_it_is_written(app_and_client, make_user, log_in):
    # Read-your-writes: nothing runs between the write and the check, yet the fresh mirror has it.
    from plant_shared.errors import ApiError

    app, client = app_and_client
    for _ in range(5):
        tokens = await log_in(client, await make_user())
        claims = await app.state.verifier.verify(tokens["access_token"])

        await app.state.denylist.deny_token(claims.jti, expires_at=claims.exp)
        with pytest.raises(ApiError) as refused:
            await app.state.verifier.verify(tokens["access_token"])

        assert refused.value.code == "token_revoked" and app.state.denylist_mirror.fresh


class LaggingMirror:
    """Stands in for this process's mirror: fresh, and applies the event after `lag` looks."""

    def __init__(self, lag: int | None, *, fresh: bool = True) -> None:
        self.lag, self.fresh, self.looks = lag, fresh, 0

    def check(self, claims: Claims) -> DenylistVerdict:
        self.looks += 1
        applied = self.lag is not None and self.looks > self.lag
        return DenylistVerdict.REVOKED if applied else DenylistVerdict.ALLOWED


async def test_a_write_returns_once_our_fresh_mirror_holds_it(denylist_redis):
    from auth_service.denylist import MIRROR_SETTLE_SECONDS, DenyList

    lagging, stalled, stale = LaggingMirror(lag=3), LaggingMirror(lag=None), LaggingMirror(lag=None, fresh=False)
    jti = str(uuid.uuid4())

    await DenyList(denylist_redis, longest_token_seconds=3600, mirror=lagging).deny_token(jti, expires_at=int(time.time()) + 60)
    started = time.monotonic()
    await DenyList(denylist_redis, longest_token_seconds=3600, mirror=stalled).deny_family(str(uuid.uuid4()))
    waited = time.monotonic() - started
    await DenyList(denylist_redis, longest_token_seconds=3600, mirror=stale).deny_subject(str(uuid.uuid4()))

    assert lagging.looks == 4  # waited for it
    assert MIRROR_SETTLE_SECONDS <= waited < MIRROR_SETTLE_SECONDS + 0.5  # bounded
    assert stale.looks == 0  # not fresh: the verifier reads Redis anyway
    assert await denylist_redis.get(f"deny:jti:{jti}") == "1"
