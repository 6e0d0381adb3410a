from __future__ import annotations

import json
import logging

import pytest

from plant_shared.logging import configure_logging
from plant_shared.request_id import request_id_var
from plant_shared.settings import DEV_SECRET_MARKER, InsecureSettingsError, refuse_insecure_production

STRONG = "s" * 48


def test_production_refuses_debug() -> None:
    with pytest.raises(InsecureSettingsError, match="X_DEBUG must be false"):
        refuse_insecure_production(environment="production", debug=True, secrets={"key": STRONG}, env_prefix="X_")


@pytest.mark.parametrize("value", [None, "", "changethis", DEV_SECRET_MARKER + "abcdefghijklmnopqrstuvwxyz0123456789", "short"])
def test_production_refuses_weak_or_development_secrets(value: str | None) -> None:
    with pytest.raises(InsecureSettingsError, match="X_KEY"):
        refuse_insecure_production(environment="production", debug=False, secrets={"key": value}, env_prefix="X_")


def test_production_accepts_real_values_and_development_accepts_anything() -> None:
    refuse_insecure_production(environment="production", debug=False, secrets={"key": STRONG})
    refuse_insecure_production(environment="development", debug=True, secrets={"key": ""})


def test_vendor_credentials_have_no_length_floor_but_no_placeholders() -> None:
    refuse_insecure_production(environment="production", debug=False, secrets={}, credentials={"plantnet_api_key": "2b10abcdefghijklmnopqrstu"})
    with pytest.raises(InsecureSettingsError, match="X_PLANTNET_API_KEY must be set to the real API key"):
        refuse_insecure_production(environment="production", debug=False, secrets={}, credentials={"plantnet_api_key": DEV_SECRET_MARKER + "k"}, env_prefix="X_")


def test_log_records_are_json_with_service_and_request_id(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(service="svc", level="INFO")
    token = request_id_var.set("rid-42")
    try:
        logging.getLogger("anything").info("hello", extra={"route": "/x"})
    finally:
        request_id_var.reset(token)

    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert record["message"] == "hello"
    assert record["service"] == "svc"
    assert record["request_id"] == "rid-42"
    assert record["route"] == "/x"
    assert record["level"] == "INFO"
