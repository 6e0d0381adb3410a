"""Settings: `AUTH_*` variables, URL checks, and the production guard."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from auth_service.config import Settings, get_settings

STRONG = "s3cure-" + "x" * 40
PROD_DB = f"postgresql+psycopg://auth:{STRONG}@db:5432/auth"
REDIS = "redis://redis:6379/0"
DENYLIST = "redis://redis:6379/4"
KEK = "kek-" + "y" * 40


@pytest.fixture(autouse=True)
def required_environment(monkeypatch):
    """A clean `AUTH_*` environment (a running stack sets many), plus the required settings these
    tests do not vary, from the environment as in production."""
    for name in [name for name in os.environ if name.startswith("AUTH_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AUTH_DENYLIST_REDIS_URL", DENYLIST)
    monkeypatch.setenv("AUTH_KEY_ENCRYPTION_KEY", KEK)


def test_reads_auth_prefixed_environment(monkeypatch):
    monkeypatch.setenv("AUTH_DATABASE_URL", PROD_DB)
    monkeypatch.setenv("AUTH_REDIS_URL", REDIS)
    monkeypatch.setenv("AUTH_LOG_LEVEL", "debug")
    get_settings.cache_clear()
    try:
        settings = get_settings()
        assert settings.log_level == "DEBUG"
        assert settings.access_token_ttl_seconds == 3600
        assert settings.refresh_token_ttl_seconds == 604800
        assert get_settings() is settings  # read once
    finally:
        get_settings.cache_clear()


def test_production_with_strong_secrets_starts():
    settings = Settings(environment="production", database_url=PROD_DB, redis_url=REDIS)

    assert settings.environment == "production"


def test_production_refuses_debug():
    with pytest.raises(ValidationError, match="AUTH_DEBUG must be false in production"):
        Settings(environment="production", debug=True, database_url=PROD_DB, redis_url=REDIS)


def test_production_refuses_a_dev_insecure_database_password():
    url = "postgresql+psycopg://auth:dev-insecure-auth-db@db:5432/auth"

    with pytest.raises(ValidationError, match="AUTH_DATABASE_URL") as raised:
        Settings(environment="production", database_url=url, redis_url=REDIS)

    assert "dev-insecure-auth-db" not in str(raised.value)  # the error never echoes the secret


def test_production_refuses_a_database_url_without_password():
    with pytest.raises(ValidationError, match="AUTH_DATABASE_URL"):
        Settings(environment="production", database_url="postgresql+psycopg://auth@db/auth", redis_url=REDIS)


def test_production_refuses_a_dev_insecure_redis_password():
    with pytest.raises(ValidationError, match="AUTH_REDIS_URL"):
        Settings(environment="production", database_url=PROD_DB, redis_url="redis://:dev-insecure-redis@redis:6379/0")


def test_development_accepts_dev_secrets_and_debug():
    settings = Settings(debug=True, database_url="postgresql+psycopg://auth:dev-insecure-auth-db@db/auth", redis_url=REDIS)

    assert settings.environment == "development"


def test_refuses_a_driver_other_than_psycopg():
    with pytest.raises(ValidationError, match="postgresql\\+psycopg://"):
        Settings(database_url="postgresql://auth@db/auth", redis_url=REDIS)


def test_urls_stay_out_of_the_repr():
    assert STRONG not in repr(Settings(database_url=PROD_DB, redis_url=REDIS))


def test_production_refuses_a_dev_insecure_key_encryption_key():
    with pytest.raises(ValidationError, match="AUTH_KEY_ENCRYPTION_KEY") as raised:
        Settings(environment="production", database_url=PROD_DB, redis_url=REDIS, key_encryption_key="dev-insecure-" + "k" * 32)

    assert "dev-insecure-kkk" not in str(raised.value)


def test_key_encryption_key_is_required_and_at_least_32_characters(monkeypatch):
    monkeypatch.delenv("AUTH_KEY_ENCRYPTION_KEY")
    with pytest.raises(ValidationError, match="key_encryption_key"):
        Settings(database_url=PROD_DB, redis_url=REDIS)
    with pytest.raises(ValidationError, match="at least 32"):
        Settings(database_url=PROD_DB, redis_url=REDIS, key_encryption_key="short")


def test_denylist_redis_url_is_required_and_checked(monkeypatch):
    monkeypatch.delenv("AUTH_DENYLIST_REDIS_URL")
    with pytest.raises(ValidationError, match="denylist_redis_url"):
        Settings(database_url=PROD_DB, redis_url=REDIS)
    with pytest.raises(ValidationError, match="AUTH_DENYLIST_REDIS_URL must start with redis://"):
        Settings(database_url=PROD_DB, redis_url=REDIS, denylist_redis_url="http://redis/4")


def test_production_refuses_a_dev_insecure_denylist_password():
    with pytest.raises(ValidationError, match="AUTH_DENYLIST_REDIS_URL"):
        Settings(environment="production", database_url=PROD_DB, redis_url=REDIS, denylist_redis_url="redis://:dev-insecure-r@redis:6379/4")


def test_file_mail_backend_needs_a_path():
    with pytest.raises(ValidationError, match="AUTH_MAIL_FILE_PATH"):
        Settings(database_url=PROD_DB, redis_url=REDIS, mail_backend="file")


def test_trusted_proxies_read_as_a_comma_separated_list(monkeypatch):
    monkeypatch.setenv("AUTH_DATABASE_URL", PROD_DB)
    monkeypatch.setenv("AUTH_REDIS_URL", REDIS)
    monkeypatch.setenv("AUTH_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.1")

    settings = Settings()

    assert [str(n) for n in settings.trusted_proxies] == ["10.0.0.0/8", "192.0.2.1/32"]


@pytest.mark.parametrize(("environment", "secure"), [("development", False), ("test", True), ("production", True)])
def test_cookies_are_secure_except_in_development(environment, secure):
    settings = Settings(environment=environment, database_url=PROD_DB, redis_url=REDIS)

    assert settings.cookie_secure is secure
    assert Settings(environment=environment, database_url=PROD_DB, redis_url=REDIS, refresh_cookie_secure=False).cookie_secure is False


def test_defaults_follow_the_token_contract():
    settings = Settings(database_url=PROD_DB, redis_url=REDIS)

    assert settings.issuer == "plant-community-auth"
    assert (settings.access_token_ttl_seconds, settings.service_token_ttl_seconds) == (3600, 300)
    assert settings.refresh_reuse_grace_seconds == 0


def test_every_setting_is_documented():
    # The README's settings table is built from these descriptions.
    undocumented = [name for name, field in Settings.model_fields.items() if not field.description]

    assert undocumented == []


def test_secrets_stay_out_of_the_repr():
    assert KEK not in repr(Settings(database_url=PROD_DB, redis_url=REDIS))
