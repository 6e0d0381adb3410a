"""Run by test_error_tracking.py in a fresh process (Sentry is process-global): start one of the
platform's processes the way it starts in production, make it fail while it holds personal data,
flush, and print whether error tracking was on.

Usage: python error_tracking_probe.py auth|gateway|worker|cms  (the service's settings come from the environment)
"""

import logging
import os
import sys

import sentry_sdk

# What the failure carries; none of it may reach the ingest (the test reads them from here).
EMAIL = "probe.member@example.org"
TOKEN = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJwcm9iZSJ9.c2lnbmF0dXJlLW9mLXRoZS1wcm9iZQ"
COOKIE = "refresh_token=probe-refresh-cookie-value"
PASSWORD = "probe-password-never-sent"
CLIENT_IP = "203.0.113.77"


def fail_over_http(app, path: str, *, lifespan: bool) -> None:
    """An unhandled exception in a route added to a service's real app, called with credentials."""
    from fastapi.testclient import TestClient

    @app.post(path)
    async def probe_failure(payload: dict) -> None:
        logging.getLogger("probe").error("probe: login by %s from %s failed", EMAIL, CLIENT_IP)
        raise RuntimeError(f"probe failure for {EMAIL} holding {TOKEN}")

    client = TestClient(app, raise_server_exceptions=False)
    if lifespan:  # the gateway starts error tracking in its lifespan (which opens the stack's database and Redis)
        client.__enter__()
    answer = client.post(
        path,
        json={"email": EMAIL, "password": PASSWORD},
        headers={"Authorization": f"Bearer {TOKEN}", "Cookie": COOKIE, "X-Forwarded-For": CLIENT_IP},
    )
    print(f"status {answer.status_code}")


def fail_in_auth_service() -> None:
    from auth_service.main import app

    fail_over_http(app, "/api/v1/auth/probe-failure", lifespan=False)


def fail_in_gateway() -> None:
    from identify_gateway.main import app

    fail_over_http(app, "/api/v1/plant-identification/probe-failure", lifespan=True)


def fail_in_worker() -> None:
    """The Celery worker's start-up (its setup_logging signal), then an error logged by a task module."""
    from identify_gateway.worker import app

    app.log.setup()
    logging.getLogger("identify_gateway.jobs.probe").error("probe: job of %s with %s failed", EMAIL, TOKEN)


def fail_in_cms() -> None:
    """The CMS's settings loaded as the ASGI app loads them, then an error logged by a view module."""
    import django

    django.setup()
    logging.getLogger("plant_cms.probe").error("probe: garden of %s (%s) failed", EMAIL, CLIENT_IP)


if __name__ == "__main__":
    {"auth": fail_in_auth_service, "gateway": fail_in_gateway, "worker": fail_in_worker, "cms": fail_in_cms}[sys.argv[1]]()
    print(f"tracking {'on' if sentry_sdk.is_initialized() else 'off'}")
    sentry_sdk.flush(timeout=10)
    sys.stdout.flush()
    os._exit(0)  # skip interpreter shutdown: background threads of the services are not the point here
