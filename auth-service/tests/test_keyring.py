"""Signing keys: loaded once per process, rotated by the CLI, published until their tokens expire."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import create_async_engine

from auth_service import signing_keys
from auth_service.accounts import upsert_user
from auth_service.db import create_sessionmaker
from auth_service.key_encryption import KeyEncryptor
from auth_service.keyring import KeyRing
from auth_service.migrations import upgrade_head
from auth_service.models import Role, SigningKey
from auth_service.signing_keys import rotate_signing_key

PASSWORD = "Rotating-key-42"


@pytest.fixture
def own_schema(empty_schema_url):
    """A migrated schema of the test's own: its signing keys are nobody else's."""
    upgrade_head(empty_schema_url)
    return empty_schema_url


@pytest.fixture
def own_settings(settings, own_schema):
    return settings.model_copy(update={"database_url": own_schema})


async def add_user(database_url: str) -> str:
    email = f"keys-{uuid.uuid4().hex[:8]}@plant.test"
    engine = create_async_engine(database_url)
    async with create_sessionmaker(engine)() as session:
        await upsert_user(session, email=email, password=PASSWORD, role=Role.MEMBER)
    await engine.dispose()
    return email


async def rotate(database_url: str, kek: str, *, keep: timedelta = timedelta(hours=1)) -> str:
    engine = create_async_engine(database_url)
    async with create_sessionmaker(engine)() as session:
        rotation = await rotate_signing_key(session, KeyEncryptor(kek), now=datetime.now(UTC), keep_published=keep)
    await engine.dispose()
    return rotation.new_kid


async def login(client, email: str) -> str:
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def kid_of(token: str) -> str:
    return jwt.get_unverified_header(token)["kid"]


async def jwks_kids(client) -> set[str]:
    return {key["kid"] for key in (await client.get("/.well-known/jwks.json")).json()["keys"]}


async def test_the_signing_key_is_parsed_once_per_process_not_per_request(settings, make_app, running, make_user, monkeypatch):
    # Given counters on every way a PEM private key could be parsed
    parsed = []
    real_loader, real_pem = signing_keys.load_private_key, serialization.load_pem_private_key
    monkeypatch.setattr(signing_keys, "load_private_key", lambda pem: parsed.append("ours") or real_loader(pem))
    monkeypatch.setattr(serialization, "load_pem_private_key", lambda *a, **k: parsed.append("pem") or real_pem(*a, **k))
    if hasattr(jwt.algorithms, "load_pem_private_key"):
        monkeypatch.setattr(jwt.algorithms, "load_pem_private_key", lambda *a, **k: parsed.append("pyjwt") or real_pem(*a, **k))
    account = await make_user()

    # When the app starts and then signs many tokens (logins and refreshes)
    app = make_app(settings)
    async with running(app) as client:
        at_startup = list(parsed)
        for _ in range(5):
            tokens = (await client.post("/api/v1/auth/login", json={"email": account.email, "password": account.password})).json()
            refreshed = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
            assert refreshed.status_code == 200

    # Then the key was parsed at startup only, once
    assert at_startup == ["ours", "pem"]
    assert parsed == at_startup


async def test_a_token_of_the_old_key_verifies_after_rotation_until_the_key_expires(own_settings, make_app, running):
    # Given a running service and a token signed by its first key
    email = await add_user(own_settings.database_url)
    app = make_app(own_settings)
    async with running(app) as client:
        old_token = await login(client, email)
        old_kid = kid_of(old_token)

        # When the key is rotated (as `auth-service rotate-signing-key` does) and the service re-reads its keys
        new_kid = await rotate(own_settings.database_url, own_settings.key_encryption_key)
        await app.state.keyring.refresh()

        # Then new tokens use the new key, the old token still works, and both keys are published
        assert kid_of(await login(client, email)) == new_kid != old_kid
        assert (await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {old_token}"})).status_code == 200
        assert await jwks_kids(client) == {old_kid, new_kid}

        # When the old key's publication ends (its last token has expired)
        engine = create_async_engine(own_settings.database_url)
        async with engine.begin() as connection:
            await connection.execute(update(SigningKey).where(SigningKey.kid == old_kid).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        await engine.dispose()
        await app.state.keyring.refresh()

        # Then it leaves the JWKS and tokens naming it are refused
        assert await jwks_kids(client) == {new_kid}
        assert (await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {old_token}"})).status_code == 401


async def test_running_processes_pick_up_a_rotation_by_themselves(own_settings, make_app, running):
    # Given a service re-reading its keys every 0.1 s
    email = await add_user(own_settings.database_url)
    app = make_app(own_settings.model_copy(update={"key_refresh_seconds": 0.1}))
    async with running(app) as client:
        await login(client, email)

        # When another process rotates the key
        new_kid = await rotate(own_settings.database_url, own_settings.key_encryption_key)
        await asyncio.sleep(0.5)

        # Then the service signs with the new key without a restart
        assert kid_of(await login(client, email)) == new_kid


async def test_a_token_from_a_newer_key_is_accepted_by_a_process_that_has_not_refreshed_yet(own_settings, make_app, running):
    # Given two processes, the second started after a rotation the first has not seen
    email = await add_user(own_settings.database_url)
    first, second = make_app(own_settings), make_app(own_settings)
    async with running(first) as old_process:
        await login(old_process, email)
        await rotate(own_settings.database_url, own_settings.key_encryption_key)
        async with running(second) as new_process:
            token = await login(new_process, email)

        # When the first process sees a token with the new kid
        response = await old_process.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})

    # Then it re-reads its keys on the unknown kid and accepts it
    assert response.status_code == 200


async def test_processes_starting_together_on_an_empty_table_create_one_key(own_settings):
    # Given five processes starting at once on a database without keys
    engine = create_async_engine(own_settings.database_url)
    sessions = create_sessionmaker(engine)
    rings = [KeyRing(sessions, KeyEncryptor(own_settings.key_encryption_key), refresh_seconds=60) for _ in range(5)]

    await asyncio.gather(*(ring.start() for ring in rings))

    # Then there is one key and all sign with it
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(SigningKey)) == 1
    await engine.dispose()
    assert len({ring.signer.kid for ring in rings}) == 1


async def test_private_keys_are_stored_encrypted(own_settings, make_app, running):
    app = make_app(own_settings)
    async with running(app):
        pass

    engine = create_async_engine(own_settings.database_url)
    async with create_sessionmaker(engine)() as session:
        row = await session.scalar(select(SigningKey))
    await engine.dispose()
    assert b"PRIVATE KEY" not in row.private_key_encrypted
    assert b"PRIVATE KEY" in KeyEncryptor(own_settings.key_encryption_key).open(row.kid, row.private_key_encrypted)
    assert set(row.public_jwk) == {"kty", "crv", "x", "kid", "use", "alg"}


async def test_a_changed_key_encryption_key_leaves_the_service_not_ready_until_a_rotation(own_settings, make_app, running):
    # Given keys made under one key-encryption key, and a service started with another
    async with running(make_app(own_settings)):
        pass
    changed = own_settings.model_copy(update={"key_encryption_key": "another-kek-" + "z" * 40})
    email = await add_user(own_settings.database_url)
    app = make_app(changed)
    async with running(app) as client:
        # Then it cannot sign: not ready, and logins answer 503 rather than 500
        assert (await client.get("/readyz")).json()["checks"]["signing_key"]["ok"] is False
        refused = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert refused.status_code == 503

        # When the operator rotates under the new key-encryption key
        await rotate(changed.database_url, changed.key_encryption_key)
        await app.state.keyring.start()

        # Then it signs again
        assert (await client.get("/readyz")).status_code == 200
        await login(client, email)
