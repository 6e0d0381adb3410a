"""`/api/v1/auth/me` (read, update, delete) and `/change-password`."""

from __future__ import annotations

import time

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from auth_service.db import create_sessionmaker
from auth_service.models import RefreshToken, TokenFamily, User
from auth_service.tokens_issue import issue_service_token

ME = "/api/v1/auth/me"
REFRESH = "/api/v1/auth/refresh"


async def test_me_returns_the_signed_in_user(client, make_user, log_in, auth):
    account = await make_user()
    tokens = await log_in(client, account)

    response = await client.get(ME, headers=auth(tokens["access_token"]))

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["email"], body["role"], body["tier"]) == (str(account.id), account.email, "member", "free")
    assert "password_hash" not in body


async def test_display_name_can_be_changed(client, make_user, log_in, auth):
    tokens = await log_in(client, await make_user())

    response = await client.patch(ME, json={"display_name": "  Rosa Canina 🌹 "}, headers=auth(tokens["access_token"]))

    assert response.status_code == 200
    assert response.json()["display_name"] == "Rosa Canina 🌹"
    assert (await client.get(ME, headers=auth(tokens["access_token"]))).json()["display_name"] == "Rosa Canina 🌹"


async def test_display_name_with_control_characters_is_refused(client, make_user, log_in, auth):
    tokens = await log_in(client, await make_user())

    response = await client.patch(ME, json={"display_name": "evil\u0000name"}, headers=auth(tokens["access_token"]))

    assert response.status_code == 422
    assert response.json()["code"] == "invalid_display_name"


async def test_change_password_ends_other_sign_ins_and_returns_a_new_pair(client, make_user, log_in, auth):
    # Given two sign-ins
    account = await make_user()
    phone, laptop = await log_in(client, account), await log_in(client, account)

    # When the phone changes the password
    response = await client.post(
        "/api/v1/auth/change-password",
        json={"current_password": account.password, "new_password": "New-green-leaf-7"},
        headers=auth(phone["access_token"]),
    )

    # Then the phone has a working new pair, the laptop is out, and only the new password works
    assert response.status_code == 200
    fresh = response.json()
    assert (await client.get(ME, headers=auth(fresh["access_token"]))).status_code == 200
    assert (await client.get(ME, headers=auth(laptop["access_token"]))).status_code == 401
    assert (await client.post(REFRESH, json={"refresh_token": laptop["refresh_token"]})).status_code == 401
    old = await client.post("/api/v1/auth/login", json={"email": account.email, "password": account.password})
    new = await client.post("/api/v1/auth/login", json={"email": account.email, "password": "New-green-leaf-7"})
    assert (old.status_code, new.status_code) == (401, 200)


async def test_change_password_needs_the_current_one(client, make_user, log_in, auth):
    account = await make_user()
    tokens = await log_in(client, account)

    response = await client.post(
        "/api/v1/auth/change-password",
        json={"current_password": "Not-it-123456", "new_password": "New-green-leaf-7"},
        headers=auth(tokens["access_token"]),
    )

    assert response.status_code == 403
    assert response.json()["code"] == "invalid_password"


async def test_change_password_applies_the_policy(client, make_user, log_in, auth):
    account = await make_user()
    tokens = await log_in(client, account)

    response = await client.post(
        "/api/v1/auth/change-password",
        json={"current_password": account.password, "new_password": "Password123"},
        headers=auth(tokens["access_token"]),
    )

    assert response.status_code == 422
    assert "commonly used" in response.json()["detail"]


async def test_delete_account_erases_rows_revokes_tokens_and_publishes_the_event(
    client, make_user, log_in, auth, database_url, denylist_redis
):
    # Given a signed-in account with two sign-ins
    account = await make_user()
    tokens = await log_in(client, account)
    other = await log_in(client, account)
    last_event = (await denylist_redis.xrevrange("events:accounts", count=1) or [("0-0", {})])[0][0]

    # When it deletes itself with its password
    response = await client.request("DELETE", ME, json={"password": account.password}, headers=auth(tokens["access_token"]))

    # Then its rows are gone, its tokens are refused, and the other services are told
    assert response.status_code == 204
    engine = create_async_engine(database_url)
    async with create_sessionmaker(engine)() as session:
        for model, column in ((User, User.id), (TokenFamily, TokenFamily.user_id), (RefreshToken, RefreshToken.user_id)):
            assert await session.scalar(select(func.count()).select_from(model).where(column == account.id)) == 0
    await engine.dispose()
    for pair in (tokens, other):
        assert (await client.get(ME, headers=auth(pair["access_token"]))).status_code == 401
        assert (await client.post(REFRESH, json={"refresh_token": pair["refresh_token"]})).status_code == 401
    assert await denylist_redis.get(f"deny:sub:{account.id}") is not None
    events = await denylist_redis.xrange("events:accounts", min=f"({last_event}")
    assert any(fields["user_id"] == str(account.id) and fields["event"] == "user.deleted" for _, fields in events)


async def test_delete_account_needs_the_password(client, make_user, log_in, auth):
    account = await make_user()
    tokens = await log_in(client, account)

    response = await client.request("DELETE", ME, json={"password": "Not-it-123456"}, headers=auth(tokens["access_token"]))

    assert response.status_code == 403
    assert (await client.get(ME, headers=auth(tokens["access_token"]))).status_code == 200


async def test_a_deleted_account_cannot_log_in_or_reregister_into_old_sessions(client, make_user, log_in, auth):
    account = await make_user()
    tokens = await log_in(client, account)
    await client.request("DELETE", ME, json={"password": account.password}, headers=auth(tokens["access_token"]))

    response = await client.post("/api/v1/auth/login", json={"email": account.email, "password": account.password})

    assert response.status_code == 401


async def test_service_token_cannot_act_as_a_user(settings, make_app, running, auth):
    # Given a valid service token (scope `internal`) whose audience includes the auth service
    app = make_app(settings)
    async with running(app) as client:
        service = issue_service_token(
            app.state.keyring.signer, issuer=settings.issuer, client_id="cms", audience="auth-service", ttl_seconds=300, now=int(time.time())
        )

        # When it calls a user endpoint
        response = await client.get(ME, headers=auth(service.token))

    # Then it is refused: it is not a user's token
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
