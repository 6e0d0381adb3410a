"""Helpers of the edge tests: the edge's settings as the stack runs them, raw HTTP on a socket (to
send only headers, or to choose the source address), and "did a service see this request?"."""

from __future__ import annotations

import json
import os
import random
import re
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
TRAEFIK_DIR = ROOT / "deploy" / "traefik"
MIDDLEWARES = TRAEFIK_DIR / "dynamic" / "middlewares.yml"

# The defaults deploy/traefik/dynamic/middlewares.yml applies when a variable is unset
# (test_static_config.py checks that the two agree).
DEFAULTS = {
    "EDGE_RATE_LIMIT_AVERAGE": "50",
    "EDGE_RATE_LIMIT_BURST": "100",
    "EDGE_LEGACY_SUNSET": "Tue, 01 Jun 2027 00:00:00 GMT",
}
DEV_CORS_ORIGINS = "http://localhost:3000,http://localhost:5173"
CSP_REPORT_PATH = "/api/v1/plant-identification/csp-report/"

# A loopback address of its own for this test run (all of 127.0.0.0/8 is loopback): requests that
# spend a per-address budget (the gateway's anonymous identifications, 10 an hour) spend this one's,
# never the 127.0.0.1 the other suites use, and a second run in the same hour starts afresh.
RUN_SOURCE = f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}"

# Which process log answers a path (devstack writes <process>.log under PLATFORM_LOG_DIR).
SERVICE_LOGS = {"auth": "auth-service.log", "gateway": "identify-gateway.log", "cms": "cms.log"}


def edge_setting(name: str) -> str:
    """A setting of the edge as the stack's Traefik sees it: the environment it inherited, else the
    template's default. (Traefik inherits the environment devstack was started with.)"""
    if name == "EDGE_CORS_ORIGINS":
        production = os.environ.get("EDGE_ENVIRONMENT") == "production"
        return os.environ.get(name) or ("" if production else DEV_CORS_ORIGINS)
    return os.environ.get(name) or DEFAULTS[name]


def cors_origins() -> list[str]:
    return [origin.strip() for origin in edge_setting("EDGE_CORS_ORIGINS").split(",") if origin.strip()]


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    body: bytes
    elapsed: float


def loopback_url(edge_url: str) -> str:
    """The edge's URL with 127.0.0.1 for `localhost`, so a client bound to another loopback address
    reaches it over IPv4."""
    return f"http://127.0.0.1:{urlsplit(edge_url).port}"


def raw_request(base_url: str, method: str, path: str, headers: dict[str, str], body: bytes = b"", *,
                source: str | None = None, timeout: float = 10.0) -> RawResponse:
    """One HTTP/1.1 request on a fresh socket, `Connection: close`, the headers exactly as given
    (a Content-Length may promise more than `body`). Reads until the server closes."""
    url = urlsplit(base_url)
    host = "127.0.0.1" if url.hostname == "localhost" else url.hostname
    started = time.monotonic()
    with socket.create_connection((host, url.port or 80), timeout=timeout, source_address=(source, 0) if source else None) as sock:
        head = f"{method} {path} HTTP/1.1\r\nHost: {url.netloc}\r\nConnection: close\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        sock.sendall(head.encode("latin-1") + b"\r\n" + body)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
                if _complete(b"".join(chunks)):
                    break
        except ConnectionResetError:
            pass  # the server may reset once it has answered and we still "owe" body bytes
    elapsed = time.monotonic() - started
    data = b"".join(chunks)
    head_bytes, _, rest = data.partition(b"\r\n\r\n")
    lines = head_bytes.decode("latin-1").split("\r\n")
    if not lines or not lines[0].startswith("HTTP/"):
        raise AssertionError(f"no HTTP response to {method} {path}: {data[:200]!r}")
    parsed: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        key = name.strip().lower()
        parsed[key] = f"{parsed[key]}, {value.strip()}" if key in parsed else value.strip()
    return RawResponse(int(lines[0].split()[1]), parsed, rest, elapsed)


def _complete(data: bytes) -> bool:
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    length = re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.IGNORECASE)
    return length is not None and len(rest) >= int(length[1])


def new_request_id() -> str:
    return f"edge-test-{uuid.uuid4()}"


def logged_by(log_dir: Path, service: str, request_id: str, *, wait: float) -> bool:
    """Whether `service`'s log has a record with `request_id`, waiting up to `wait` seconds (logs are
    written asynchronously)."""
    path = log_dir / SERVICE_LOGS[service]
    deadline = time.monotonic() + wait
    while True:
        for line in path.read_text(errors="replace").splitlines():
            if request_id in line:
                try:
                    if json.loads(line).get("request_id") == request_id:
                        return True
                except json.JSONDecodeError:
                    continue
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


# The edge's own error answers (deploy/traefik/dynamic/middlewares.yml, json-errors): the envelope
# code of each status Traefik answers by itself.
EDGE_ERROR_CODES = {413: "payload_too_large", 429: "throttled", 502: "bad_gateway", 503: "service_unavailable", 504: "gateway_timeout"}


def edge_error_body(status: int, content_type: str | None, body: bytes) -> dict[str, str]:
    """The body of one of the edge's own error answers, checked to be the platform's JSON envelope."""
    assert content_type == "application/json", content_type
    envelope = json.loads(body)
    assert set(envelope) == {"detail", "code"}, envelope
    assert envelope["code"] == EDGE_ERROR_CODES[status], envelope
    assert envelope["detail"].endswith("."), envelope  # a sentence, like the services' details
    return envelope
