"""Security headers on every routed response, through the real edge: the common set on all of them,
one Content-Security-Policy per kind of page (APIs and files, API docs, admin, status page), and no
HSTS over plain HTTP (it comes with the TLS entry point only: test_edge_runtime.py)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx
import pytest

from tests.edge.support import CSP_REPORT_PATH

# One path per router (and per service behind it); the answer's status does not matter.
ROUTED = [
    "/api/v1/auth/health/",
    "/.well-known/jwks.json",
    "/api/v1/plant-identification/identify/health/",
    "/api/v1/plant-identification/no-such-thing/",
    "/api/v2/pages/",
    "/api/v1/blog/posts/",
    "/api/v1/garden/plants/",
    "/cms/login/",
    "/documents/1/missing.pdf",
    "/images/missing/",
    "/static/no-such-file.css",
    "/api/auth/health/",
    "/api/plant-identification/identify/health/",
    "/api/blog/posts/",
    "/api/v1/auth/docs",
    "/api/v1/plant-identification/status/",
]
LOCKED_DOWN_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


def directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            parsed[words[0]] = words[1:]
    return parsed


@pytest.mark.parametrize("path", ROUTED)
def test_every_routed_response_carries_the_common_security_headers(edge: httpx.Client, path: str) -> None:
    response = edge.get(path)

    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert "camera=()" in headers["permissions-policy"]
    assert headers["cross-origin-opener-policy"] == "same-origin"
    assert headers["reporting-endpoints"] == f'csp="{CSP_REPORT_PATH}"'
    assert "x-request-id" in headers
    # Exactly one policy, and one that forbids foreign framing.
    assert len(headers.get_list("content-security-policy")) == 1
    assert re.search(r"frame-ancestors '(none|self)'", headers["content-security-policy"])
    # No software banners, and no HSTS over plain HTTP.
    assert "server" not in headers and "x-powered-by" not in headers
    assert "strict-transport-security" not in headers


@pytest.mark.parametrize("path", ["/api/v1/auth/health/", "/api/v2/pages/", "/api/v1/plant-identification/identify/health/",
                                  "/static/no-such-file.css", "/images/missing/", "/api/auth/health/"])
def test_apis_and_files_allow_nothing_to_run_or_frame_them(edge: httpx.Client, path: str) -> None:
    response = edge.get(path)

    assert response.headers["content-security-policy"] == LOCKED_DOWN_CSP
    assert response.headers["x-frame-options"] == "DENY"


def test_the_admin_gets_a_same_origin_policy_that_reports_violations(edge: httpx.Client) -> None:
    response = edge.get("/cms/login/")

    assert response.status_code == 200
    enforced = directives(response.headers["content-security-policy"])
    assert enforced["default-src"] == ["'self'"]
    assert enforced["object-src"] == ["'none'"]
    assert enforced["base-uri"] == ["'self'"]
    assert enforced["form-action"] == ["'self'"]
    assert enforced["frame-ancestors"] == ["'self'"]  # the admin frames its own previews
    assert enforced["report-uri"] == [CSP_REPORT_PATH] and enforced["report-to"] == ["csp"]
    assert not any(source.startswith(("http:", "https:", "*")) for values in enforced.values() for source in values)
    # The target policy, reported only: no inline scripts at all.
    target = directives(response.headers["content-security-policy-report-only"])
    assert target["script-src"] == ["'self'"]
    assert target["report-uri"] == [CSP_REPORT_PATH]
    # Framing is left to Django (SAMEORIGIN), consistent with frame-ancestors.
    assert response.headers["x-frame-options"] == "SAMEORIGIN"


def test_the_admin_login_page_loads_only_what_its_policy_allows(edge: httpx.Client) -> None:
    page = edge.get("/cms/login/")

    sources = re.findall(r'<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"', page.text)
    assert sources
    assert all(not urlsplit(source).netloc for source in sources), sources  # all same-origin


def test_the_status_page_policy_is_strict(edge: httpx.Client) -> None:
    response = edge.get("/api/v1/plant-identification/status/")

    policy = directives(response.headers["content-security-policy"])
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["report-uri"] == [CSP_REPORT_PATH] and policy["report-to"] == ["csp"]
    assert "'unsafe-inline'" not in response.headers["content-security-policy"]


@pytest.mark.parametrize("path", ["/api/v1/auth/docs", "/api/v1/plant-identification/docs"])
def test_api_docs_get_a_policy_that_lets_their_page_load(edge: httpx.Client, path: str) -> None:
    response = edge.get(path)

    assert response.status_code == 200
    policy = directives(response.headers["content-security-policy"])
    assert policy["frame-ancestors"] == ["'none'"]
    # Every script and stylesheet the page loads comes from a source its policy allows.
    for kind, url in re.findall(r'<(script|link)\b[^>]*\b(?:src|href)="([^"]+)"', response.text):
        directive = "script-src" if kind == "script" else ("style-src" if url.endswith(".css") else "img-src")
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(url)) if urlsplit(url).netloc else "'self'"
        assert origin in policy[directive], (url, policy[directive])
