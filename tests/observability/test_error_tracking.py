"""Error tracking reaches Sentry only with a DSN, and without personal data.

A tiny HTTP server here plays Sentry's ingest (DSN `http://key@127.0.0.1:PORT/1`): the real SDK in a
real service process sends its envelopes there over HTTP. Each case runs in its own process
(error_tracking_probe.py), because Sentry is initialised once per process.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.observability import error_tracking_probe as probe

PROBE = Path(probe.__file__)
ROOT = PROBE.parents[2]
SECRETS = {"e-mail": probe.EMAIL, "token": probe.TOKEN, "cookie": probe.COOKIE, "password": probe.PASSWORD, "client IP": probe.CLIENT_IP}
# Each probe: the service's DSN variable, the extra environment it runs with, and its `service` tag.
SERVICES = {
    "auth": ("AUTH_SENTRY_DSN", {}, "auth-service"),
    "gateway": ("GATEWAY_SENTRY_DSN", {}, "identify-gateway"),
    "worker": ("GATEWAY_SENTRY_DSN", {}, "identify-gateway-worker"),
    "cms": ("CMS_SENTRY_DSN", {"DJANGO_SETTINGS_MODULE": "plant_cms.settings.test"}, "cms"),
}


class Ingest(ThreadingHTTPServer):
    """Sentry's envelope endpoint: keeps every request body, decompressed."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _IngestHandler)
        self.bodies: list[bytes] = []
        self.paths: list[str] = []

    @property
    def dsn(self) -> str:
        return f"http://probekey@127.0.0.1:{self.server_address[1]}/1"

    def items(self) -> list[dict]:
        """Every JSON line of every envelope (headers and payloads alike)."""
        found = []
        for body in self.bodies:
            for line in body.splitlines():
                try:
                    found.append(json.loads(line))
                except ValueError:
                    continue
        return found

    def events(self) -> list[dict]:
        return [item for item in self.items() if "event_id" in item and "level" in item]


class _IngestHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.server.bodies.append(body)  # type: ignore[attr-defined]
        self.server.paths.append(self.path)  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def ingest() -> Iterator[Ingest]:
    server = Ingest()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def run_probe(service: str, extra_env: dict[str, str]) -> str:
    _, service_env, _ = SERVICES[service]
    env = {k: v for k, v in os.environ.items() if not k.endswith("SENTRY_DSN")}
    env.update(service_env)
    env.update(extra_env)
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, str(PROBE), service], env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.parametrize("service", SERVICES)
def test_an_error_reaches_sentry_without_personal_data(service: str, ingest: Ingest, stack_env) -> None:
    stack_env("PLATFORM_EDGE_URL")  # the services' settings come from the stack's environment
    dsn_variable, _, tag = SERVICES[service]

    output = run_probe(service, {dsn_variable: ingest.dsn})

    assert "tracking on" in output
    events = ingest.events()
    assert events, f"no event reached the ingest (requests: {ingest.paths})"
    assert all(path == "/api/1/envelope/" for path in ingest.paths)
    assert {event["tags"]["service"] for event in events} == {tag}
    assert all(event.get("environment") and event.get("release") for event in events)
    sent = b"\n".join(ingest.bodies).decode()
    leaked = [name for name, value in SECRETS.items() if value in sent]
    assert not leaked, f"sent to Sentry: {leaked}"
    assert "Bearer" not in sent and "probe-password" not in sent


@pytest.mark.parametrize("service", ["auth", "gateway"])
def test_the_http_event_keeps_what_is_useful(service: str, ingest: Ingest, stack_env) -> None:
    stack_env("PLATFORM_EDGE_URL")
    dsn_variable, _, _ = SERVICES[service]

    output = run_probe(service, {dsn_variable: ingest.dsn})

    assert "status 500" in output
    failures = [event for event in ingest.events() if event.get("exception")]
    assert failures, "the unhandled exception was not reported"
    exception = failures[0]["exception"]["values"][-1]
    assert exception["type"] == "RuntimeError"
    assert exception["value"] == "probe failure for [Filtered] holding [Filtered]"
    request = failures[0]["request"]
    assert request["url"].endswith("/probe-failure") and request["method"] == "POST"
    assert not {"authorization", "cookie", "x-forwarded-for"} & {name.lower() for name in request.get("headers", {})}
    assert "data" not in request and "cookies" not in request and "env" not in request
    assert "ip_address" not in failures[0].get("user", {})


@pytest.mark.parametrize("service", SERVICES)
def test_nothing_is_sent_without_a_dsn(service: str, ingest: Ingest, stack_env) -> None:
    stack_env("PLATFORM_EDGE_URL")

    # SENTRY_DSN is the SDK's own fallback variable: the platform must not pick it up either.
    output = run_probe(service, {"SENTRY_DSN": ingest.dsn})

    assert "tracking off" in output
    assert ingest.bodies == []
