"""Settings: the environment switch, the production guard and the messages that name the fix."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

REAL_PASSWORD = "Zq8v3uYx1Lr0Ww6Nb2Kp5Ts9Hm4Jd7Ga"  # 34 characters, no development marker
REAL_PLANT_ID_KEY = "k3Jw9QeX2mVt7LpR5nHb8ZcY1aFd4SgU6oTi0WqErTyUiOpAsDfG"  # Kindwise keys are ~50 characters
REAL_PLANTNET_KEY = "2b10AbCdEfGhIjKlMnOpQrStU"  # Pl@ntNet keys are 25 characters


def production(make_settings: Callable[..., Any], **overrides: Any) -> Any:
    values = {
        "environment": "production",
        "database_url": f"postgresql+psycopg://gateway:{REAL_PASSWORD}@db:5432/gateway",
        "plant_id_api_key": REAL_PLANT_ID_KEY,
        "plantnet_api_key": REAL_PLANTNET_KEY,
    }
    return make_settings(**{**values, **overrides})


def test_production_with_real_secrets_starts_and_requires_auth(make_settings: Callable[..., Any]) -> None:
    settings = production(make_settings)

    assert settings.anonymous_allowed is False and settings.auth_required is True
    assert settings.plant_id_fail_max == 3 and settings.plantnet_fail_max == 5


def test_development_allows_anonymous_callers_by_default(make_settings: Callable[..., Any]) -> None:
    assert make_settings(environment="development").anonymous_allowed is True


def test_anonymous_allowed_does_not_follow_debug(make_settings: Callable[..., Any]) -> None:
    assert make_settings(environment="development", debug=True, anonymous_allowed=False).auth_required is True
    assert make_settings(environment="development", debug=False, anonymous_allowed=True).auth_required is False


def test_the_seed_limits_are_the_defaults(make_settings: Callable[..., Any]) -> None:
    settings = make_settings()

    assert settings.anonymous_limit == 10 and settings.rate_limit_window_s == 3600
    assert settings.tier_limit("free") == 100 and settings.tier_limit(None) == 100 and settings.tier_limit("unheard-of") == 100
    assert settings.tier_limit("pro") > 100
    assert settings.max_upload_bytes == 10 * 1024 * 1024 and settings.max_image_pixels == 40_000_000


def test_tier_limits_come_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    from identify_gateway.config import Settings

    monkeypatch.setenv("GATEWAY_TIER_LIMITS", '{"free": 50, "pro": 700}')
    settings = Settings()  # type: ignore[call-arg]  # the rest from the GATEWAY_* variables of the run

    assert settings.tier_limit("pro") == 700 and settings.tier_limit("free") == 50


def test_the_deny_list_url_is_required(make_settings: Callable[..., Any]) -> None:
    with pytest.raises(ValidationError, match="DENYLIST_REDIS_URL"):
        make_settings(denylist_redis_url="http://wrong")


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"debug": True}, "GATEWAY_DEBUG"),
        ({"database_url": "postgresql+psycopg://gateway:changeme@db:5432/gateway"}, "GATEWAY_DATABASE_URL"),
        ({"plant_id_api_key": "dev-insecure-standin-plant-id-key"}, "GATEWAY_PLANT_ID_API_KEY"),
        ({"plant_id_api_key": None}, "GATEWAY_PLANT_ID_API_KEY"),
        ({"plantnet_api_key": "dev-insecure-standin-plantnet-key"}, "GATEWAY_PLANTNET_API_KEY"),
        ({"plantnet_api_key": None}, "GATEWAY_PLANTNET_API_KEY"),
        ({"service_client_secret": "dev-insecure-gateway-client-secret"}, "GATEWAY_SERVICE_CLIENT_SECRET"),
    ],
)
def test_production_refuses_development_values_and_names_the_variable(make_settings: Callable[..., Any], overrides: dict[str, Any], named: str) -> None:
    with pytest.raises(ValidationError, match="refusing to start in production") as refused:
        production(make_settings, **overrides)

    assert named in str(refused.value)


def test_production_error_does_not_echo_the_database_password(make_settings: Callable[..., Any]) -> None:
    with pytest.raises(ValidationError) as refused:
        production(make_settings, database_url="postgresql+psycopg://gateway:short-but-secret@db/gateway")

    assert "short-but-secret" not in str(refused.value)


def test_database_url_must_use_psycopg(make_settings: Callable[..., Any]) -> None:
    with pytest.raises(ValidationError, match=r"GATEWAY_DATABASE_URL must use the postgresql\+psycopg://"):
        make_settings(database_url="postgresql://gateway@db/gateway")


def test_settings_repr_hides_urls(make_settings: Callable[..., Any]) -> None:
    settings = make_settings(database_url="postgresql+psycopg://gateway:hunter2-hunter2@db/gateway")

    assert "hunter2" not in repr(settings)
