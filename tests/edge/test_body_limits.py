"""Request body caps per route: one byte over the cap is refused by the edge itself (413, at once,
before any byte of the body is read, and the service never sees the request); the cap itself passes."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.edge.support import RUN_SOURCE, edge_error_body, logged_by, new_request_id, raw_request

KIB, MIB = 1024, 1024 * 1024
PLANT = uuid.uuid4()

# (path, cap in bytes, service behind it, content type)
CAPS = [
    ("/api/v1/auth/login", 64 * KIB, "auth", "application/json"),
    ("/api/auth/login", 64 * KIB, "auth", "application/json"),
    ("/api/v1/plant-identification/identify/", 11 * MIB, "gateway", "multipart/form-data; boundary=b"),
    ("/api/plant-identification/identify/", 11 * MIB, "gateway", "multipart/form-data; boundary=b"),
    ("/api/v1/plant-identification/csp-report/", 64 * KIB, "gateway", "application/csp-report"),
    ("/api/v1/garden/plants/", 1 * MIB, "cms", "application/json"),
    ("/api/calendar/tasks/", 1 * MIB, "cms", "application/json"),
    (f"/api/v1/garden/plants/{PLANT}/photos/", 11 * MIB, "cms", "multipart/form-data; boundary=b"),
    ("/cms/images/multiple/add/", 20 * MIB, "cms", "multipart/form-data; boundary=b"),
]
IDS = [f"{path} {cap // KIB} KiB" for path, cap, *_ in CAPS]


@pytest.mark.parametrize(("path", "cap", "service", "content_type"), CAPS, ids=IDS)
def test_a_body_over_the_cap_is_refused_at_the_edge(edge_url: str, log_dir: Path, path: str, cap: int, service: str, content_type: str) -> None:
    request_id = new_request_id()

    # Only the headers: the edge must answer from Content-Length alone, without waiting for the body.
    response = raw_request(edge_url, "POST", path, {"Content-Type": content_type, "Content-Length": str(cap + 1), "X-Request-ID": request_id})

    assert response.status == 413
    assert response.elapsed < 2.0
    assert response.headers["x-request-id"] == request_id
    assert response.headers["x-content-type-options"] == "nosniff"
    # The edge's own answer in the platform's envelope (a service's 413 would name its own limit).
    assert edge_error_body(413, response.headers.get("content-type"), response.body)["detail"] == (
        "The request body is larger than this endpoint accepts."
    )
    assert not logged_by(log_dir, service, request_id, wait=1.0), f"{service} saw a request the edge should have refused"


@pytest.mark.parametrize(("path", "cap", "service", "content_type"), CAPS, ids=IDS)
def test_a_body_of_exactly_the_cap_reaches_the_service(edge_url: str, log_dir: Path, path: str, cap: int, service: str, content_type: str) -> None:
    request_id = new_request_id()

    response = raw_request(edge_url, "POST", path, {"Content-Type": content_type, "Content-Length": str(cap), "X-Request-ID": request_id},
                           b"x" * cap, timeout=60, source=RUN_SOURCE)

    # Whatever the service makes of it (401, 403, 400, 413 of its own...), it is the service's answer.
    assert logged_by(log_dir, service, request_id, wait=5.0), (response.status, response.body[:300])
    assert b"larger than this endpoint accepts" not in response.body  # not the edge's 413


def test_a_chunked_body_over_the_cap_is_refused_too(edge_url: str, log_dir: Path) -> None:
    request_id = new_request_id()
    chunk = b"x" * (16 * KIB)
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(5)) + b"0\r\n\r\n"  # 80 KiB > 64 KiB

    response = raw_request(edge_url, "POST", "/api/v1/auth/login",
                           {"Content-Type": "application/json", "Transfer-Encoding": "chunked", "X-Request-ID": request_id}, body)

    assert response.status == 413
    edge_error_body(413, response.headers.get("content-type"), response.body)
    assert not logged_by(log_dir, "auth", request_id, wait=1.0)
