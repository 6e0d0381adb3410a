"""The unversioned /api/... paths of the seed are answered by the v1 handlers, with Deprecation,
Sunset and successor-version Link headers added at the edge (ARCHITECTURE.md, seed doc 004's
legacy URL table: auth, plant-identification, blog, search, calendar; garden alike)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.edge.support import RUN_SOURCE, edge_setting, loopback_url

LINK = '</api/v1/>; rel="successor-version"'
# A fresh unknown account per run: two failed logins on it never reach the auth service's locks.
NOBODY = {"email": f"nobody-{uuid.uuid4().hex[:12]}@legacy-test.example", "password": "not-the-password-1"}

# (method, legacy path, JSON body or None, how to compare the two answers' bodies)
#   "equal": the same JSON; "keys": the same top-level keys (bodies with timestamps); "code": same error code
LEGACY = [
    ("GET", "/api/auth/health/", None, "keys"),
    ("POST", "/api/auth/login", NOBODY, "equal"),
    ("GET", "/api/plant-identification/identify/health/", None, "keys"),
    ("POST", "/api/plant-identification/identify/", None, "code"),
    ("GET", "/api/plant-identification/history/", None, "equal"),
    ("GET", "/api/blog/posts/", None, "equal"),
    ("GET", "/api/search/?q=rose", None, "equal"),
    ("GET", "/api/calendar/tasks/", None, "equal"),
    ("GET", "/api/garden/plants/", None, "equal"),
]


@pytest.fixture(scope="module")
def client(edge_url: str) -> Iterator[httpx.Client]:
    """From this run's own loopback address: the anonymous identifications here spend its budget."""
    with httpx.Client(base_url=loopback_url(edge_url), transport=httpx.HTTPTransport(local_address=RUN_SOURCE), timeout=10) as client:
        yield client


def v1_path(path: str) -> str:
    return "/api/v1/" + path.removeprefix("/api/")


def compare(kind: str, legacy: httpx.Response, v1: httpx.Response) -> None:
    assert legacy.headers["content-type"] == v1.headers["content-type"]
    left: Any = legacy.json()
    right: Any = v1.json()
    if kind == "equal":
        assert left == right
    elif kind == "keys":
        assert set(left) == set(right)
    else:
        assert left.get("code") == right.get("code")


@pytest.mark.parametrize(("method", "path", "body", "kind"), LEGACY, ids=[f"{m} {p}" for m, p, *_ in LEGACY])
def test_a_legacy_path_is_answered_by_its_v1_handler_with_deprecation_headers(
    client: httpx.Client, method: str, path: str, body: dict[str, str] | None, kind: str
) -> None:
    legacy = client.request(method, path, json=body)
    v1 = client.request(method, v1_path(path), json=body)

    assert legacy.status_code == v1.status_code, (legacy.text[:300], v1.text[:300])
    compare(kind, legacy, v1)
    assert legacy.headers["deprecation"] == "true"
    assert legacy.headers["sunset"] == edge_setting("EDGE_LEGACY_SUNSET")
    assert legacy.headers["link"] == LINK
    for name in ("deprecation", "sunset"):
        assert name not in v1.headers


def test_a_signed_in_member_gets_the_same_account_through_the_legacy_path(edge: httpx.Client, stack_env: Callable[[str], str]) -> None:
    login = edge.post("/api/auth/login", json={"email": stack_env("PLATFORM_DEMO_MEMBER_EMAIL"), "password": stack_env("PLATFORM_DEMO_MEMBER_PASSWORD")})
    assert login.status_code == 200, login.text
    assert login.headers["deprecation"] == "true"
    auth = {"Authorization": f"Bearer {login.json()['access_token']}"}

    legacy, v1 = edge.get("/api/auth/me", headers=auth), edge.get("/api/v1/auth/me", headers=auth)

    assert legacy.status_code == v1.status_code == 200
    assert legacy.json() == v1.json()
    assert legacy.headers["link"] == LINK


def test_the_sunset_is_an_http_date() -> None:
    from email.utils import parsedate_to_datetime

    sunset = parsedate_to_datetime(edge_setting("EDGE_LEGACY_SUNSET"))
    assert sunset.tzinfo is not None and edge_setting("EDGE_LEGACY_SUNSET").endswith(" GMT")


@pytest.mark.parametrize("path", ["/api/v2/pages/", "/api/v1/auth/health/", "/api/v1/blog/posts/"])
def test_versioned_paths_are_not_deprecated(edge: httpx.Client, path: str) -> None:
    response = edge.get(path)

    assert response.status_code == 200
    assert "deprecation" not in response.headers and "sunset" not in response.headers and "link" not in response.headers


@pytest.mark.parametrize("path", ["/api/v3/pages/", "/api/metrics", "/api/internal/species/", "/api/authx/health/"])
def test_other_unversioned_paths_are_not_rewritten(edge: httpx.Client, path: str) -> None:
    response = edge.get(path)

    assert "deprecation" not in response.headers
