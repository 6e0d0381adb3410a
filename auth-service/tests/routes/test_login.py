"""`POST /api/v1/auth/login`: tokens for the right password, one answer for every wrong one."""

from __future__ import annotations

import asyncio

import jwt
from sqlalchemy import update
from sqlalchemy.ext.asyncio import create_async_engine

from auth_service.models import Role, Tier, User
from auth_service.token_contract import USER_AUDIENCES

URL = "/api/v1/auth/login"


async def test_login_returns_an_access_token_per_the_contract(client, make_user, settings):
    # Given an editor on the pro tier
    account = await make_user(role=Role.EDITOR, tier=Tier.PRO)

    # When they log in (mobile: both tokens in the body)
    response = await client.post(URL, json={"email": account.email, "password": account.password})

    # Then the access token carries the contract's header and claims
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == settings.access_token_ttl_seconds
    assert len(body["refresh_token"]) >= 64 and body["refresh_token"].count(".") == 0  # opaque, not a JWT
    header = jwt.get_unverified_header(body["access_token"])
    assert (header["alg"], header["typ"]) == ("EdDSA", "at+jwt")
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["iss"] == settings.issuer
    assert claims["aud"] == list(USER_AUDIENCES)
    assert claims["sub"] == str(account.id)
    assert (claims["roles"], claims["tier"], claims["scope"]) == (["editor"], "pro", "user")
    assert claims["exp"] - claims["iat"] == settings.access_token_ttl_seconds
    assert claims["nbf"] == claims["iat"]
    assert {"jti", "sid"} <= set(claims)


async def test_unknown_email_and_wrong_password_answer_identically(client, make_user, new_email):
    # Given an existing account
    account = await make_user()

    # When one login uses a wrong password and another an unknown email
    wrong_password = await client.post(URL, json={"email": account.email, "password": "Wrong-password-1"})
    unknown_email = await client.post(URL, json={"email": new_email(), "password": "Wrong-password-1"})

    # Then status, body and headers that matter are the same
    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password.json() == unknown_email.json() == {"detail": "Email or password is incorrect.", "code": "invalid_credentials"}
    assert wrong_password.headers.get("www-authenticate") == unknown_email.headers.get("www-authenticate")


async def test_unknown_email_costs_an_argon2_verification(client, new_email, monkeypatch):
    # Given a spy on the password verification
    from auth_service import passwords

    calls = []
    real = passwords.verify_password
    monkeypatch.setattr(passwords, "verify_password", lambda h, p: calls.append(h) or real(h, p))

    # When an unknown email logs in
    await client.post(URL, json={"email": new_email(), "password": "Whatever-123"})

    # Then a real Argon2id hash was verified (the dummy one)
    assert len(calls) == 1 and calls[0].startswith("$argon2id$")


async def test_email_case_and_spaces_do_not_matter(client, make_user):
    account = await make_user()

    response = await client.post(URL, json={"email": f"  {account.email.upper()} ", "password": account.password})

    assert response.status_code == 200


async def test_repeated_failures_lock_the_account_with_retry_after(settings, make_app, running, make_user):
    # Given a low lock threshold
    app = make_app(settings.model_copy(update={"login_lock_after_account": 4, "login_lock_seconds": 120}))
    account = await make_user()
    wrong = {"email": account.email, "password": "Not-the-password-1"}

    async with running(app) as client:
        # When the wrong password is tried until the lock
        statuses = [(await client.post(URL, json=wrong)).status_code for _ in range(4)]
        # Then even the right password is refused while it lasts
        locked = await client.post(URL, json={"email": account.email, "password": account.password})

    assert statuses == [401, 401, 401, 429]
    assert locked.status_code == 429
    retry_after = int(locked.headers["Retry-After"])
    assert 0 < retry_after <= 120
    assert locked.json() == {"detail": f"Request was throttled. Expected available in {retry_after} seconds.", "code": "throttled"}


async def test_lock_applies_to_unknown_emails_too(settings, make_app, running, new_email):
    # A lock on an address must not reveal whether it has an account.
    app = make_app(settings.model_copy(update={"login_lock_after_account": 2}))
    body = {"email": new_email(), "password": "Not-the-password-1"}

    async with running(app) as client:
        statuses = [(await client.post(URL, json=body)).status_code for _ in range(3)]

    assert statuses == [401, 429, 429]


async def test_failures_from_one_ip_across_accounts_lock_that_ip(settings, make_app, running, new_email, new_ip):
    # Given one client IP trying many addresses
    app = make_app(settings.model_copy(update={"login_lock_after_ip": 3}))

    async with running(app) as client:
        statuses = [(await client.post(URL, json={"email": new_email(), "password": "Guess-12345"})).status_code for _ in range(4)]
        # Then another IP is not affected
        other = await client.post(URL, json={"email": new_email(), "password": "Guess-12345"}, headers={"X-Forwarded-For": new_ip()})

    assert statuses == [401, 401, 429, 429]
    assert other.status_code == 401


async def test_answers_slow_down_before_the_lock(settings, make_app, running, make_user):
    # Given slow-down after 2 failures, 0.2 s per extra failure
    app = make_app(settings.model_copy(update={"login_slowdown_after": 2, "login_slowdown_step_seconds": 0.2, "login_slowdown_max_seconds": 1}))
    account = await make_user()
    wrong = {"email": account.email, "password": "Not-the-password-1"}

    async with running(app) as client:
        for _ in range(2):
            await client.post(URL, json=wrong)
        loop = asyncio.get_running_loop()
        started = loop.time()
        third = await client.post(URL, json=wrong)
        elapsed = loop.time() - started

    assert third.status_code == 401
    assert elapsed >= 0.2


async def test_successful_login_forgets_the_accounts_failures(settings, make_app, running, make_user):
    app = make_app(settings.model_copy(update={"login_lock_after_account": 3}))
    account = await make_user()
    wrong = {"email": account.email, "password": "Not-the-password-1"}
    right = {"email": account.email, "password": account.password}

    async with running(app) as client:
        statuses = [(await client.post(URL, json=body)).status_code for body in (wrong, wrong, right, wrong, wrong)]

    assert statuses == [401, 401, 200, 401, 401]


async def test_disabled_account_answers_like_a_wrong_password(client, make_user, database_url):
    # Given an account an operator disabled
    account = await make_user()
    engine = create_async_engine(database_url)
    async with engine.begin() as connection:
        await connection.execute(update(User).where(User.id == account.id).values(is_active=False))
    await engine.dispose()

    # When its right password is used
    response = await client.post(URL, json={"email": account.email, "password": account.password})

    # Then the answer is the one for a wrong password
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"


async def test_web_login_puts_the_refresh_token_in_an_httponly_cookie(client, make_user):
    # Given a web client
    account = await make_user()

    # When it logs in
    response = await client.post(URL, json={"email": account.email, "password": account.password, "client": "web"})

    # Then the refresh token is only in the cookie, with the flags that keep it from scripts and other sites
    assert response.status_code == 200
    assert "refresh_token" not in response.json()
    cookies = {c.split("=", 1)[0]: c for c in response.headers.get_list("set-cookie")}
    refresh = cookies["plant_refresh"].lower()
    assert "httponly" in refresh and "samesite=strict" in refresh and "path=/api/v1/auth/" in refresh
    csrf = cookies["plant_csrf"].lower()
    assert "httponly" not in csrf and "samesite=strict" in csrf


async def test_cookies_are_secure_outside_development(settings, make_app, running, make_user):
    app = make_app(settings.model_copy(update={"refresh_cookie_secure": None}))  # environment=test
    account = await make_user()

    async with running(app) as client:
        response = await client.post(URL, json={"email": account.email, "password": account.password, "client": "web"})

    assert all("secure" in c.lower() for c in response.headers.get_list("set-cookie"))
