"""`auth-service migrate` and `auth-service create-user`, run as the set-up steps run them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from auth_service import cli
from auth_service.config import get_settings
from auth_service.migrations import upgrade_head
from auth_service.models import ServiceClient, SigningKey, User
from auth_service.passwords import verify_password
from auth_service.service_clients import hash_secret

SCRIPT = Path(sys.executable).with_name("auth-service")


def run(args: list[str], database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AUTH_DATABASE_URL": database_url}
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def cli_env(monkeypatch, database_url):
    """Run `cli.main` in-process against the session schema."""
    monkeypatch.setenv("AUTH_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def create_user(capsys, *args: str) -> dict[str, object]:
    assert cli.main(["create-user", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_migrate_is_idempotent(empty_schema_url):
    # Given an empty schema, when migrate runs twice (module and console script)
    first = run([sys.executable, "-m", "auth_service.cli", "migrate"], empty_schema_url)
    second = run([str(SCRIPT), "migrate"], empty_schema_url)

    # Then both succeed and the schema is at head, with every table
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert json.loads(first.stdout) == json.loads(second.stdout) == {"command": "migrate", "revision": "0002"}
    engine = create_engine(empty_schema_url)
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM alembic_version")) == 1
        tables = set(connection.scalars(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")))
    engine.dispose()
    assert {"users", "linked_identities", "token_families", "refresh_tokens", "password_reset_tokens", "signing_keys", "service_clients"} <= tables


def test_create_user_twice_updates_the_one_account(cli_env, capsys, database_url, new_email):
    email = new_email()

    created = create_user(capsys, "--email", email, "--password", "first-pass", "--role", "member")
    updated = create_user(capsys, "--email", email.upper(), "--password", "second-pass", "--role", "admin", "--tier", "pro")

    assert created["outcome"] == "created"
    assert updated["outcome"] == "updated"
    assert updated["id"] == created["id"]
    assert (updated["role"], updated["tier"]) == ("admin", "pro")
    engine = create_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(select(User.password_hash).where(User.email == email)).all()
    engine.dispose()
    assert len(rows) == 1
    assert rows[0].password_hash.startswith("$argon2id$")
    assert verify_password(rows[0].password_hash, "second-pass")


def test_create_user_with_the_same_arguments_changes_nothing(cli_env, capsys, new_email):
    args = ("--email", new_email(), "--password", "pass-word", "--role", "editor", "--display-name", "Ed")

    create_user(capsys, *args)
    again = create_user(capsys, *args)

    assert again["outcome"] == "unchanged"


def test_create_user_refuses_an_invalid_email(cli_env, capsys):
    assert cli.main(["create-user", "--email", "not-an-email", "--password", "x", "--role", "member"]) == 2

    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Invalid email address" in captured.err


def test_missing_settings_are_named_without_traceback(monkeypatch, capsys):
    monkeypatch.delenv("AUTH_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        assert cli.main(["migrate"]) == 2
    finally:
        get_settings.cache_clear()

    err = capsys.readouterr().err
    assert "AUTH_" in err and "database_url" in err
    assert "Traceback" not in err


def test_unreachable_database_exits_1(monkeypatch, capsys):
    monkeypatch.setenv("AUTH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:1/auth")
    monkeypatch.setenv("AUTH_REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("AUTH_DENYLIST_REDIS_URL", "redis://127.0.0.1:1/4")
    get_settings.cache_clear()
    try:
        assert cli.main(["migrate"]) == 1
    finally:
        get_settings.cache_clear()

    assert "cannot reach the database" in capsys.readouterr().err


def test_create_user_reads_the_password_from_an_environment_variable(cli_env, capsys, monkeypatch, database_url, new_email):
    # Given a password kept off the command line
    email = new_email()
    monkeypatch.setenv("DEMO_PASSWORD", "from-the-environment")

    # When create-user names the variable
    created = create_user(capsys, "--email", email, "--password-env", "DEMO_PASSWORD", "--role", "member")

    # Then that password is the one stored
    assert created["outcome"] == "created"
    engine = create_engine(database_url)
    with engine.connect() as connection:
        stored = connection.scalar(select(User.password_hash).where(User.email == email))
    engine.dispose()
    assert verify_password(stored, "from-the-environment")


def test_create_user_refuses_an_unset_password_variable(cli_env, monkeypatch, new_email):
    monkeypatch.delenv("NO_SUCH_PASSWORD_VAR", raising=False)

    with pytest.raises(SystemExit, match="NO_SUCH_PASSWORD_VAR"):
        cli.main(["create-user", "--email", new_email(), "--password-env", "NO_SUCH_PASSWORD_VAR", "--role", "member"])


def test_create_service_client_is_idempotent_and_updates_the_secret(cli_env, capsys, monkeypatch, database_url):
    # Given a secret in the environment
    client_id = f"svc-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("SVC_SECRET", "s" * 40)
    args = ["create-service-client", "--client-id", client_id, "--audience", "cms", "--audience", "identify-gateway", "--secret-env", "SVC_SECRET"]

    # When the command runs twice, then with a new secret
    outcomes = []
    for secret in ("s" * 40, "s" * 40, "t" * 40):
        monkeypatch.setenv("SVC_SECRET", secret)
        assert cli.main(args) == 0
        outcomes.append(json.loads(capsys.readouterr().out))

    # Then it was created once, left alone once, updated once; the newest secret is stored
    assert [o["outcome"] for o in outcomes] == ["created", "unchanged", "updated"]
    assert outcomes[0]["audiences"] == ["cms", "identify-gateway"]
    engine = create_engine(database_url)
    with engine.connect() as connection:
        stored = connection.scalar(select(ServiceClient.secret_hash).where(ServiceClient.client_id == client_id))
    engine.dispose()
    assert stored == hash_secret("t" * 40)


def test_create_service_client_refuses_a_short_secret(cli_env, capsys, monkeypatch):
    monkeypatch.setenv("SVC_SECRET", "short")

    assert cli.main(["create-service-client", "--client-id", "gw", "--audience", "cms", "--secret-env", "SVC_SECRET"]) == 2
    assert "32 characters" in capsys.readouterr().err


def test_rotate_signing_key_retires_the_signer_and_keeps_it_published(empty_schema_url, monkeypatch, capsys):
    # Given a schema whose first key exists
    upgrade_head(empty_schema_url)
    monkeypatch.setenv("AUTH_DATABASE_URL", empty_schema_url)
    get_settings.cache_clear()
    try:
        assert cli.main(["rotate-signing-key"]) == 0
        first = json.loads(capsys.readouterr().out)

        # When it is rotated again
        assert cli.main(["rotate-signing-key"]) == 0
        second = json.loads(capsys.readouterr().out)
        settings = get_settings()
    finally:
        get_settings.cache_clear()

    # Then the first key is retired, published for the access-token lifetime plus the margins
    assert second["retired"] == [first["kid"]]
    published = datetime.fromisoformat(second["published_until"]) - datetime.now(UTC)
    expected = settings.access_token_ttl_seconds + settings.key_refresh_seconds + 30
    assert expected - 60 < published.total_seconds() <= expected
    engine = create_engine(empty_schema_url)
    with engine.connect() as connection:
        rows = {r.kid: r for r in connection.execute(select(SigningKey))}
    engine.dispose()
    assert rows[second["kid"]].retired_at is None
    assert rows[first["kid"]].retired_at is not None
