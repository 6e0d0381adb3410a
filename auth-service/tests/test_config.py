"""Settings: `AUTH_*` variables, URL checks, and the production guard."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from auth_service.config import Settings, get_settings

STRONG = "s3cure-" + "x" * 40
PROD_DB = f"postgresql+psycopg://auth:{STRONG}@db:5432/auth"
REDIS = "redis://redis:6379/0"


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
