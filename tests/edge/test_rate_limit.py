"""The per-IP rate limit at the edge (a first line before the services' own limits): a burst over
EDGE_RATE_LIMIT_BURST from one address is refused with 429 by Traefik, other addresses are not.

The burst comes from 127.0.0.2 (all of 127.0.0.0/8 is loopback), so the 127.0.0.1 the other tests
use keeps its whole budget. The requests are CORS preflights: answered by the edge itself, so the
burst costs the services nothing.
"""

from __future__ import annotations

import collections
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.edge.support import edge_error_body, edge_setting, loopback_url

SOURCE = "127.0.0.2"
MAX_BURST_REQUESTS = 3000


def test_a_burst_from_one_address_is_limited_at_the_edge(edge_url: str) -> None:
    average, burst = int(edge_setting("EDGE_RATE_LIMIT_AVERAGE")), int(edge_setting("EDGE_RATE_LIMIT_BURST"))
    count = 2 * burst + 2 * average
    if count > MAX_BURST_REQUESTS:
        pytest.skip(f"the edge allows {average}/s with bursts of {burst}: too many requests to exceed from one test")
    preflight = {"Origin": "https://rate-limit-test.example", "Access-Control-Request-Method": "POST"}
    transport = httpx.HTTPTransport(local_address=SOURCE)
    lock = threading.Lock()
    results: list[tuple[int, str | None, str | None]] = []
    refusals: list[httpx.Response] = []

    with httpx.Client(transport=transport, base_url=loopback_url(edge_url), timeout=10,
                      limits=httpx.Limits(max_connections=16, max_keepalive_connections=16)) as client:

        def send(_: int) -> None:
            response = client.options("/api/v1/auth/login", headers=preflight)
            with lock:
                results.append((response.status_code, response.headers.get("retry-after"), response.headers.get("x-request-id")))
                if response.status_code == 429:
                    refusals.append(response)

        started = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(send, range(count)))
        elapsed = time.monotonic() - started

    statuses = collections.Counter(status for status, _, _ in results)
    assert set(statuses) <= {200, 429}, statuses
    assert statuses[429] > 0, (
        f"{count} requests in {elapsed:.2f}s, none refused: does the stack's edge run with other "
        f"EDGE_RATE_LIMIT_* values than this test sees ({average}/s, burst {burst})?"
    )
    # Never more than the bucket holds plus what refills meanwhile (10% slack for timing).
    assert statuses[200] <= (burst + average * elapsed) * 1.1 + 5, (statuses, elapsed)
    refused = [(retry_after, request_id) for status, retry_after, request_id in results if status == 429]
    assert all(retry_after and int(retry_after) >= 1 for retry_after, _ in refused)
    assert all(request_id for _, request_id in refused)  # the request id middleware runs first
    # Not Traefik's plain text: the platform's JSON envelope, with the security headers.
    for response in refusals:
        edge_error_body(429, response.headers.get("content-type"), response.content)
        assert response.headers["x-content-type-options"] == "nosniff"

    # Another address is not affected...
    assert httpx.get(loopback_url(edge_url) + "/api/v1/auth/health/", timeout=10).status_code == 200
    # ...and the limited one gets tokens back as time passes.
    time.sleep(max(2.0 / average, 0.1))
    with httpx.Client(transport=httpx.HTTPTransport(local_address=SOURCE), base_url=loopback_url(edge_url), timeout=10) as client:
        assert client.options("/api/v1/auth/login", headers=preflight).status_code == 200


def test_a_services_own_429_passes_the_edge_untouched(edge_url: str) -> None:
    # The gateway's anonymous budget (GATEWAY_ANONYMOUS_LIMIT per client address and hour) spent from
    # an address of this run's own: its 429 must reach the client as the gateway wrote it.
    limit = int(os.environ.get("GATEWAY_ANONYMOUS_LIMIT") or "10")
    if limit > 50:
        pytest.skip(f"the gateway allows {limit} anonymous identifications an hour: too many to spend here")
    source = f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
    multipart = {"Content-Type": "multipart/form-data; boundary=b"}
    with httpx.Client(transport=httpx.HTTPTransport(local_address=source), base_url=loopback_url(edge_url), timeout=10) as client:
        answers = [client.post("/api/v1/plant-identification/identify/", content=b"--b--\r\n", headers=multipart) for _ in range(limit + 1)]

    refused = answers[-1]
    assert [a.status_code for a in answers[:-1]].count(429) == 0, [a.status_code for a in answers]
    assert refused.status_code == 429, refused.text
    assert refused.headers["content-type"] == "application/json"
    assert refused.headers.get("retry-after")
    assert "from this address" not in refused.json()["detail"]  # the gateway's sentence, not the edge's
