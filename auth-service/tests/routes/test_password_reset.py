"""`POST /api/v1/auth/password-reset` and `/password-reset/confirm`: one-time links by mail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import create_async_engine

from auth_service.models import PasswordResetToken
from auth_service.refresh_tokens import hash_token

REQUEST = "/api/v1/auth/password-reset"
CONFIRM = "/api/v1/auth/password-reset/confirm"
NEW_PASSWORD = "Fresh-sprout-88"


def reset_mails(read_mail, email: str) -> list[dict]:
    return [m for m in read_mail() if m["kind"] == "password_reset" and m["to"] == email]


async def test_reset_request_mails_a_link_with_a_one_time_token(client, make_user, read_mail, settings):
    account = await make_user()

    response = await client.post(REQUEST, json={"email": account.email.upper()})

    assert response.status_code == 202
    [mail] = reset_mails(read_mail, account.email)
    assert mail["data"]["link"] == f"{settings.public_base_url}/reset-password?token={mail['data']['token']}"
    assert mail["data"]["token"] in mail["body"]


async def test_reset_request_answers_the_same_for_unknown_addresses(client, make_user, new_email, read_mail):
    known = await client.post(REQUEST, json={"email": (await make_user()).email})
    unknown_email = new_email()
    unknown = await client.post(REQUEST, json={"email": unknown_email})

    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json()) == (202, known.json())
    assert reset_mails(read_mail, unknown_email) == []


async def test_confirm_sets_the_password_and_ends_every_sign_in(client, make_user, log_in, auth, read_mail):
    # Given a signed-in account that asked for a reset
    account = await make_user()
    tokens = await log_in(client, account)
    await client.post(REQUEST, json={"email": account.email})
    token = reset_mails(read_mail, account.email)[0]["data"]["token"]

    # When the link is used
    response = await client.post(CONFIRM, json={"token": token, "new_password": NEW_PASSWORD})

    # Then the new password works, the old one and the old sign-in do not
    assert response.status_code == 204
    assert (await client.post("/api/v1/auth/login", json={"email": account.email, "password": NEW_PASSWORD})).status_code == 200
    assert (await client.post("/api/v1/auth/login", json={"email": account.email, "password": account.password})).status_code == 401
    assert (await client.get("/api/v1/auth/me", headers=auth(tokens["access_token"]))).status_code == 401


async def test_a_reset_token_works_once(client, make_user, read_mail):
    account = await make_user()
    await client.post(REQUEST, json={"email": account.email})
    token = reset_mails(read_mail, account.email)[0]["data"]["token"]

    first = await client.post(CONFIRM, json={"token": token, "new_password": NEW_PASSWORD})
    second = await client.post(CONFIRM, json={"token": token, "new_password": "Another-sprout-9"})

    assert first.status_code == 204
    assert second.status_code == 400
    assert second.json()["code"] == "invalid_reset_token"


async def test_an_expired_reset_token_is_refused(client, make_user, read_mail, database_url):
    account = await make_user()
    await client.post(REQUEST, json={"email": account.email})
    token = reset_mails(read_mail, account.email)[0]["data"]["token"]
    engine = create_async_engine(database_url)
    async with engine.begin() as connection:
        await connection.execute(
            update(PasswordResetToken).where(PasswordResetToken.token_hash == hash_token(token)).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    await engine.dispose()

    response = await client.post(CONFIRM, json={"token": token, "new_password": NEW_PASSWORD})

    assert response.status_code == 400


async def test_a_weak_new_password_keeps_the_token_usable(client, make_user, read_mail):
    account = await make_user()
    await client.post(REQUEST, json={"email": account.email})
    token = reset_mails(read_mail, account.email)[0]["data"]["token"]

    weak = await client.post(CONFIRM, json={"token": token, "new_password": "short"})
    strong = await client.post(CONFIRM, json={"token": token, "new_password": NEW_PASSWORD})

    assert (weak.status_code, strong.status_code) == (422, 204)


async def test_repeated_requests_send_one_mail_per_minute(client, make_user, read_mail):
    account = await make_user()

    for _ in range(3):
        assert (await client.post(REQUEST, json={"email": account.email})).status_code == 202

    assert len(reset_mails(read_mail, account.email)) == 1


async def test_a_made_up_token_is_refused(client):
    response = await client.post(CONFIRM, json={"token": "made-up", "new_password": NEW_PASSWORD})

    assert response.status_code == 400
