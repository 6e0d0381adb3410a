"""`POST /api/v1/auth/refresh`: rotation on every use, reuse detection, web cookies with CSRF."""

from __future__ import annotations

import asyncio

import jwt
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from auth_service.db import create_sessionmaker
from auth_service.models import RefreshToken, TokenFamily
from auth_service.refresh_tokens import hash_token

URL = "/api/v1/auth/refresh"
ME = "/api/v1/auth/me"


def sid_of(access_token: str) -> str:
    return jwt.decode(access_token, options={"verify_signature": False})["sid"]


async def test_refresh_rotates_the_token_and_keeps_the_family(client, make_user, log_in, auth):
    # Given a signed-in mobile client
    first = await log_in(client, await make_user())

    # When it refreshes
    response = await client.post(URL, json={"refresh_token": first["refresh_token"]})

    # Then it gets a new pair from the same family, and the new access token works
    assert response.status_code == 200
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert sid_of(second["access_token"]) == sid_of(first["access_token"])
    assert (await client.get(ME, headers=auth(second["access_token"]))).status_code == 200


async def test_refresh_token_is_stored_only_as_its_sha256(client, make_user, log_in, database_url):
    tokens = await log_in(client, await make_user())

    engine = create_async_engine(database_url)
    async with create_sessionmaker(engine)() as session:
        row = await session.scalar(select(RefreshToken).where(RefreshToken.token_hash == hash_token(tokens["refresh_token"])))
        stored = await session.scalar(select(RefreshToken.token_hash).where(RefreshToken.token_hash == tokens["refresh_token"]))
    await engine.dispose()

    assert row is not None and str(row.family_id) == sid_of(tokens["access_token"])
    assert stored is None


async def test_replayed_rotated_token_revokes_the_family_and_its_access_tokens(client, make_user, log_in, auth, denylist_redis):
    # Given a family that rotated once (old → new)
    first = await log_in(client, await make_user())
    second = (await client.post(URL, json={"refresh_token": first["refresh_token"]})).json()

    # When the old refresh token is presented again (a thief, or the victim after the thief)
    replay = await client.post(URL, json={"refresh_token": first["refresh_token"]})

    # Then it is refused, the newest refresh token is dead, and so are the family's access tokens
    assert replay.status_code == 401
    assert replay.json()["code"] == "refresh_token_reused"
    assert (await client.post(URL, json={"refresh_token": second["refresh_token"]})).status_code == 401
    for access in (first["access_token"], second["access_token"]):
        me = await client.get(ME, headers=auth(access))
        assert me.status_code == 401
        assert me.json() == {"detail": "The access token has been revoked.", "code": "token_revoked"}
    sid = sid_of(first["access_token"])
    assert await denylist_redis.exists(f"deny:sid:{sid}")
    assert 0 < await denylist_redis.ttl(f"deny:sid:{sid}") <= 3600 + 30


async def test_other_families_survive_a_reuse_in_one(client, make_user, log_in, auth):
    account = await make_user()
    phone = await log_in(client, account)
    laptop = await log_in(client, account)

    await client.post(URL, json={"refresh_token": phone["refresh_token"]})
    await client.post(URL, json={"refresh_token": phone["refresh_token"]})  # reuse: phone's family dies

    assert (await client.get(ME, headers=auth(laptop["access_token"]))).status_code == 200
    assert (await client.post(URL, json={"refresh_token": laptop["refresh_token"]})).status_code == 200


async def test_concurrent_refreshes_with_one_token_have_exactly_one_winner(client, make_user, log_in, database_url):
    # Given one refresh token
    tokens = await log_in(client, await make_user())

    # When ten requests use it at the same moment
    responses = await asyncio.gather(*(client.post(URL, json={"refresh_token": tokens["refresh_token"]}) for _ in range(10)))

    # Then exactly one rotates it, the others are refused (never 500), and one successor exists
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [401] * 9
    engine = create_async_engine(database_url)
    async with create_sessionmaker(engine)() as session:
        family = await session.scalar(select(TokenFamily).where(TokenFamily.id == sid_of(tokens["access_token"])))
        generations = (await session.scalars(select(RefreshToken).where(RefreshToken.family_id == family.id))).all()
    await engine.dispose()
    assert len(generations) == 2


async def test_within_the_grace_window_a_concurrent_loser_does_not_revoke(settings, make_app, running, make_user, log_in):
    # Given a 5-second grace window
    app = make_app(settings.model_copy(update={"refresh_reuse_grace_seconds": 5}))
    async with running(app) as client:
        tokens = await log_in(client, await make_user())
        winner = (await client.post(URL, json={"refresh_token": tokens["refresh_token"]})).json()

        # When the previous token comes back at once
        loser = await client.post(URL, json={"refresh_token": tokens["refresh_token"]})

        # Then it is refused without ending the sign-in
        assert loser.status_code == 401
        assert loser.json()["code"] == "refresh_token_superseded"
        assert (await client.post(URL, json={"refresh_token": winner["refresh_token"]})).status_code == 200


async def test_unknown_and_garbage_refresh_tokens_are_401(client):
    for value in ("nope", "x" * 256, "' OR 1=1 --", "eyJhbGciOiJFZERTQSJ9.e30.sig"):
        response = await client.post(URL, json={"refresh_token": value})
        assert response.status_code == 401, value
        assert response.json()["code"] == "invalid_refresh_token"


async def test_refresh_without_any_token_is_401(client):
    response = await client.post(URL)

    assert response.status_code == 401
    assert "plant_refresh" in response.json()["detail"]


async def test_web_refresh_with_cookie_and_csrf_header_rotates_both_cookies(client, make_user):
    # Given a web sign-in (cookies in the client's jar)
    account = await make_user()
    await client.post("/api/v1/auth/login", json={"email": account.email, "password": account.password, "client": "web"})
    old_refresh, csrf = client.cookies["plant_refresh"], client.cookies["plant_csrf"]

    # When the page refreshes, echoing the CSRF cookie in the header
    response = await client.post(URL, headers={"X-CSRF-Token": csrf})

    # Then a new access token comes back and both cookies rotate
    assert response.status_code == 200, response.text
    assert "refresh_token" not in response.json()
    assert client.cookies["plant_refresh"] != old_refresh
    assert client.cookies["plant_csrf"] != csrf


async def test_web_refresh_without_csrf_header_is_403(client, make_user):
    account = await make_user()
    await client.post("/api/v1/auth/login", json={"email": account.email, "password": account.password, "client": "web"})

    missing = await client.post(URL)
    wrong = await client.post(URL, headers={"X-CSRF-Token": "forged"})

    assert missing.status_code == wrong.status_code == 403
    assert missing.json()["code"] == "csrf_failed"
    # And the refused attempts did not consume the token
    ok = await client.post(URL, headers={"X-CSRF-Token": client.cookies["plant_csrf"]})
    assert ok.status_code == 200


async def test_web_refresh_cookie_replayed_revokes_the_family(client, make_user):
    account = await make_user()
    await client.post("/api/v1/auth/login", json={"email": account.email, "password": account.password, "client": "web"})
    stolen = client.cookies["plant_refresh"]
    await client.post(URL, headers={"X-CSRF-Token": client.cookies["plant_csrf"]})

    replay = await client.post(URL, json={"refresh_token": stolen})

    assert replay.status_code == 401
    assert replay.json()["code"] == "refresh_token_reused"


async def test_a_refresh_that_fails_midway_does_not_use_up_the_token(settings, dead_redis_url, make_app, running, make_user, log_in):
    # Given a refresh token, and a service whose deny-list Redis is away
    account = await make_user()
    async with running(make_app(settings)) as healthy:
        tokens = await log_in(healthy, account)

    async with running(make_app(settings.model_copy(update={"denylist_redis_url": dead_redis_url}))) as broken:
        failed = await broken.post(URL, json={"refresh_token": tokens["refresh_token"]})

    # When Redis is back, the same token is presented again
    async with running(make_app(settings)) as healthy:
        retried = await healthy.post(URL, json={"refresh_token": tokens["refresh_token"]})

    # Then the first attempt was a 503 and the retry is an ordinary rotation, not a reuse
    assert failed.status_code == 503
    assert retried.status_code == 200
