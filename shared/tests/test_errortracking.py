"""The Sentry event scrubber: what it removes and what it keeps (plant_shared.errortracking)."""

from __future__ import annotations

import sentry_sdk

from plant_shared.errortracking import FILTERED, init_error_tracking, scrub_event, scrub_text

JWT = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2ln"


def test_scrub_text_masks_emails_tokens_credentials_and_addresses() -> None:
    text = f"login of ana.b+x@example.co.uk from 192.0.2.4 and 2001:db8::7 with Bearer {JWT}, {JWT} and ?token=abc&page=2"

    scrubbed = scrub_text(text)

    for secret in ("ana.b+x@example.co.uk", "192.0.2.4", "2001:db8::7", JWT, "abc"):
        assert secret not in scrubbed
    assert "page=2" in scrubbed and "Bearer [Filtered]" in scrubbed


def test_scrub_text_keeps_releases_clock_times_and_ids() -> None:
    text = "auth-service@0.1.0 at 12:30:45 for 0b9c4a52-6b1e-4d1c-9f51-0c1f3f5e2b7a"

    assert scrub_text(text) == text


def test_scrub_event_drops_credentials_bodies_and_addresses_of_the_request() -> None:
    event = {
        "request": {
            "url": "https://api.example.org/api/v1/auth/login?email=ana@example.org",
            "headers": {"Authorization": f"Bearer {JWT}", "Cookie": "refresh=x", "X-Forwarded-For": "192.0.2.4", "User-Agent": "app/1.0"},
            "cookies": {"refresh": "x"},
            "data": {"email": "ana@example.org", "password": "p"},
            "env": {"REMOTE_ADDR": "192.0.2.4"},
            "query_string": "token=abc",
        },
        "user": {"id": "u-1", "email": "ana@example.org", "ip_address": "192.0.2.4"},
        "extra": {"password": "p", "count": 3},
    }

    scrubbed = scrub_event(event)

    request = scrubbed["request"]
    assert request["headers"] == {"User-Agent": "app/1.0"}
    assert {"cookies", "data", "env"}.isdisjoint(request)
    assert request["query_string"] == f"token={FILTERED}"
    assert "ana@example.org" not in request["url"]
    assert scrubbed["user"] == {"id": "u-1"}
    assert scrubbed["extra"] == {"password": FILTERED, "count": 3}


def test_without_a_dsn_the_sdk_is_not_even_initialised() -> None:
    assert init_error_tracking(service="test", dsn=None, environment="test") is False
    assert init_error_tracking(service="test", dsn="  ", environment="test") is False
    assert not sentry_sdk.is_initialized()
