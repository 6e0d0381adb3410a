"""`POST /api/v1/auth/register`: sign-up without revealing which addresses have accounts."""

from __future__ import annotations

import asyncio
import unicodedata

from sqlalchemy import func, select

from auth_service.models import User

URL = "/api/v1/auth/register"
STRONG = "Green-leaves-42"


async def count_accounts(session, email: str) -> int:
    return await session.scalar(select(func.count()).select_from(User).where(User.email == email))


async def test_register_creates_an_account_that_can_log_in(client, new_email, read_mail):
    # Given a free address
    email = new_email()

    # When someone registers it
    response = await client.post(URL, json={"email": email, "password": STRONG, "display_name": "Rosa"})

    # Then the answer is 202 and the account works
    assert response.status_code == 202
    assert response.json()["code"] == "registration_accepted"
    login = await client.post("/api/v1/auth/login", json={"email": email, "password": STRONG})
    assert login.status_code == 200
    assert [m["kind"] for m in read_mail()] == ["welcome"]


async def test_register_of_a_taken_address_answers_exactly_like_a_new_one(client, make_user, new_email, read_mail):
    # Given an existing account
    existing = await make_user()

    # When the same address is registered again, and a free one too
    taken = await client.post(URL, json={"email": existing.email.upper(), "password": STRONG})
    free = await client.post(URL, json={"email": new_email(), "password": STRONG})

    # Then both answers are identical, the old password still works, and the owner is told by mail
    assert (taken.status_code, taken.json()) == (free.status_code, free.json())
    login = await client.post("/api/v1/auth/login", json={"email": existing.email, "password": existing.password})
    assert login.status_code == 200
    assert [m["kind"] for m in read_mail()] == ["already_registered", "welcome"]


async def test_twenty_concurrent_registrations_of_one_address_make_one_account(client, session, new_email):
    # Given one address sent twenty times at once, with different casing
    email = new_email()
    variants = [email.upper() if i % 2 else email for i in range(20)]

    # When all register concurrently
    responses = await asyncio.gather(*(client.post(URL, json={"email": v, "password": STRONG}) for v in variants))

    # Then all get the same 202 and exactly one account exists
    assert {r.status_code for r in responses} == {202}
    assert await count_accounts(session, email) == 1


async def test_unicode_and_mixed_case_addresses_are_one_account(client, session):
    # Given one address written composed, decomposed and in upper case
    local = f"émile.{__import__('uuid').uuid4().hex[:6]}"
    composed = f"{local}@gärtner.test"
    decomposed = unicodedata.normalize("NFD", composed)

    # When each form registers
    for form in (composed, decomposed, composed.upper()):
        assert (await client.post(URL, json={"email": form, "password": STRONG})).status_code == 202

    # Then there is one account, and any form logs in
    assert await count_accounts(session, composed) == 1
    login = await client.post("/api/v1/auth/login", json={"email": decomposed.upper(), "password": STRONG})
    assert login.status_code == 200


async def test_weak_password_is_refused_with_every_broken_rule(client, new_email):
    response = await client.post(URL, json={"email": new_email(), "password": "aaaa"})

    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "weak_password"
    assert "at least 10 characters" in body["detail"] and "mix at least two" in body["detail"]


async def test_password_equal_to_the_email_is_refused(client, new_email):
    email = new_email()

    response = await client.post(URL, json={"email": email, "password": email.upper()})

    assert response.status_code == 422
    assert "email address" in response.json()["detail"]


async def test_invalid_email_is_a_clear_422(client):
    response = await client.post(URL, json={"email": "not-an-address", "password": STRONG})

    assert response.status_code == 422
    assert response.json()["code"] == "invalid_email"
    assert response.json()["detail"].startswith("Invalid email address")


async def test_missing_fields_are_named(client):
    response = await client.post(URL, json={"email": "a@plant.test"})

    assert response.status_code == 422
    assert response.json()["detail"] == "Invalid request: password: Field required."
