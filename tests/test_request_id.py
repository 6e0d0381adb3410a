"""X-Request-ID: generated at the edge when absent, kept when sane, logged by the service that answered."""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path

import httpx
import pytest

UUID4 = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"

# One public path per service, and the log file of the service that answers it.
PATHS = [
    ("/api/v1/auth/health/", "auth-service"),
    ("/api/v1/plant-identification/identify/health/", "identify-gateway"),
    ("/api/v2/pages/", "cms"),
]


def _logged_records(log_path: Path, request_id: str, *, timeout: float = 5.0) -> list[dict]:
    """JSON log records in `log_path` that carry `request_id` (logs are flushed asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        records = []
        for line in log_path.read_text(errors="replace").splitlines():
            if request_id in line:
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
        if records or time.monotonic() > deadline:
            return records
        time.sleep(0.1)


@pytest.mark.parametrize(("path", "service"), PATHS)
def test_edge_generates_a_request_id_when_absent(edge: httpx.Client, path: str, service: str) -> None:
    response = edge.get(path)

    assert len(response.headers.get_list("x-request-id")) == 1
    assert re.fullmatch(UUID4, response.headers["x-request-id"])


@pytest.mark.parametrize(("path", "service"), PATHS)
def test_a_client_request_id_round_trips_and_is_logged(edge: httpx.Client, stack_env, path: str, service: str) -> None:
    request_id = f"e2e-{uuid.uuid4()}"

    response = edge.get(path, headers={"X-Request-ID": request_id})

    assert response.headers.get_list("x-request-id") == [request_id]
    records = _logged_records(Path(stack_env("PLATFORM_LOG_DIR")) / f"{service}.log", request_id)
    assert records, f"{service} logged nothing with request id {request_id}"
    assert all(record["request_id"] == request_id and record["service"] == service for record in records)


@pytest.mark.parametrize("bad_id", ["has spaces", "<script>", "x" * 200, "ünïcode"])
def test_a_malformed_request_id_is_replaced(edge: httpx.Client, bad_id: str) -> None:
    response = edge.get("/api/v1/auth/health/", headers={"X-Request-ID": bad_id.encode("utf-8")})

    assert response.headers["x-request-id"] != bad_id
    assert len(response.headers["x-request-id"]) == 36


def test_the_edge_access_log_carries_the_request_id(edge: httpx.Client, stack_env) -> None:
    request_id = f"e2e-{uuid.uuid4()}"

    edge.get("/api/v2/pages/", headers={"X-Request-ID": request_id})

    records = _logged_records(Path(stack_env("PLATFORM_LOG_DIR")) / "edge-access.log", request_id)
    assert records and records[0]["request_X-Request-Id"] == request_id
    assert records[0]["RouterName"].startswith("cms")

