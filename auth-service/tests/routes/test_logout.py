"""`POST /api/v1/auth/logout` and `/logout-all`: revocation through the deny-list and the families."""

from __future__ import annotations

import time

import jwt

ME = "/api/v1/auth/me"
REFRESH = "/api/v1/auth/refresh"


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


async def test_logout_denies_the_token_and_ends_its_family(client, make_user, log_in, auth, denylist_redis):
    # Given a signed-in client
    tokens = await log_in(client, await make_user())
    claims = claims_of(tokens["access_token"])

    # When it logs out
    response = await client.post("/api/v1/auth/logout", headers=auth(tokens["access_token"]))

    # Then the access token is deny-listed for its remaining life, and the refresh token is dead
    assert response.status_code == 204
    ttl = await denylist_redis.ttl(f"deny:jti:{claims['jti']}")
    assert claims["exp"] - int(time.time()) < ttl <= claims["exp"] - int(time.time()) + 31
    assert (await client.get(ME, headers=auth(tokens["access_token"]))).status_code == 401
    assert (await client.post(REFRESH, json={"refresh_token": tokens["refresh_token"]})).status_code == 401


async def test_logout_leaves_other_sign_ins_alone(client, make_user, log_in, auth):
    account = await make_user()
    phone, laptop = await log_in(client, account), await log_in(client, account)

    await client.post("/api/v1/auth/logout", headers=auth(phone["access_token"]))

    assert (await client.get(ME, headers=auth(laptop["access_token"]))).status_code == 200


async def test_logout_clears_the_web_cookies(client, make_user):
    account = await make_user()
    body = (await client.post("/api/v1/auth/login", json={"email": account.email, "password": account.password, "client": "web"})).json()

    response = await client.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {body['access_token']}"})

    cleared = [c for c in response.headers.get_list("set-cookie") if "max-age=0" in c.lower()]
    assert {c.split("=", 1)[0] for c in cleared} == {"plant_refresh", "plant_csrf"}


async def test_logout_all_ends_every_sign_in(client, make_user, log_in, auth, denylist_redis):
    # Given two sign-ins of one account
    account = await make_user()
    phone, laptop = await log_in(client, account), await log_in(client, account)

    # When one logs out everywhere
    response = await client.post("/api/v1/auth/logout-all", headers=auth(phone["access_token"]))

    # Then every access and refresh token of the account is dead
    assert response.status_code == 204
    assert int(await denylist_redis.get(f"deny:sub:{account.id}")) >= claims_of(laptop["access_token"])["iat"]
    for tokens in (phone, laptop):
        assert (await client.get(ME, headers=auth(tokens["access_token"]))).status_code == 401
        assert (await client.post(REFRESH, json={"refresh_token": tokens["refresh_token"]})).status_code == 401


async def test_signing_in_right_after_logout_all_works(client, make_user, log_in, auth):
    # Within the same second as the cut-off, a new token must not be born revoked.
    account = await make_user()
    first = await log_in(client, account)
    await client.post("/api/v1/auth/logout-all", headers=auth(first["access_token"]))

    again = await log_in(client, account)

    assert (await client.get(ME, headers=auth(again["access_token"]))).status_code == 200


async def test_logout_without_a_token_is_401_with_the_envelope(client):
    response = await client.post("/api/v1/auth/logout")

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response.headers["www-authenticate"] == "Bearer"
