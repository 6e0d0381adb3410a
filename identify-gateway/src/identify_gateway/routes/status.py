"""`…/status/`: the admins' live status page (HTML, with its script and style as separate files so
that it runs under a strict Content-Security-Policy), and the same data as JSON.

The page itself holds no data and needs no token; the data comes over `/ws/v1/status`, which only
admins may open. The page takes the admin's token from its URL fragment (`#access_token=…`: a
fragment is never sent to a server, so it cannot land in an access log) or from a form, and keeps
it in the tab's sessionStorage.

`…/csp-report/` receives the browsers' Content-Security-Policy violation reports for every page the
edge serves with a policy (`report-uri`/`report-to`): each is logged and counted
(`gateway_csp_reports_total{directive}`).
"""

from __future__ import annotations

import json
import logging
from importlib import resources as package_files
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from identify_gateway.access import is_admin, required_bearer
from identify_gateway.deps import ResourcesDep
from identify_gateway.jobs.status import status_snapshot
from identify_gateway.metrics import CSP_REPORTS
from identify_gateway.routes import API_PREFIX
from identify_gateway.schemas import ErrorBody
from plant_shared.errors import ApiError
from plant_shared.tokens import Claims

router = APIRouter(prefix=f"{API_PREFIX}/status", tags=["status"])
csp_router = APIRouter(prefix=API_PREFIX, tags=["status"])
logger = logging.getLogger(__name__)
MAX_REPORT_BYTES = 64 * 1024  # the edge caps the body at this too

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_FILES = package_files.files("identify_gateway") / "static"
_PAGES = {
    "status.html": ("text/html; charset=utf-8", (_FILES / "status.html").read_bytes()),
    "status.js": ("text/javascript; charset=utf-8", (_FILES / "status.js").read_bytes()),
    "status.css": ("text/css; charset=utf-8", (_FILES / "status.css").read_bytes()),
}
_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}


def _file(name: str) -> Response:
    media_type, body = _PAGES[name]
    return Response(body, media_type=media_type, headers=_HEADERS)


@router.get("/", response_class=Response, responses={200: {"content": {"text/html": {}}}})
async def status_page() -> Response:
    """The live status page (admins: it asks for an admin token, then streams `/ws/v1/status`)."""
    return _file("status.html")


@router.get("/status.js", response_class=Response, include_in_schema=False)
async def status_script() -> Response:
    return _file("status.js")


@router.get("/status.css", response_class=Response, include_in_schema=False)
async def status_style() -> Response:
    return _file("status.css")


@csp_router.post("/csp-report/", status_code=204, response_class=Response, include_in_schema=False)
async def csp_report(request: Request) -> Response:
    """Browsers' CSP violation reports (the edge's policies point here): logged and counted, never stored."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_REPORT_BYTES:
            break
    for report in _reports(bytes(body[:MAX_REPORT_BYTES])):
        directive = str(report.get("effective-directive") or report.get("effectiveDirective") or report.get("violated-directive") or "unknown")
        directive = directive.split()[0][:40] if directive.strip() else "unknown"
        CSP_REPORTS.labels(directive).inc()
        logger.warning(
            "CSP violation: %s blocked %s on %s", directive, str(report.get("blocked-uri") or report.get("blockedURL") or "?")[:200],
            str(report.get("document-uri") or report.get("documentURL") or "?")[:200],
        )  # fmt: skip
    return Response(status_code=204)


def _reports(raw: bytes) -> list[dict[str, Any]]:
    """The reports in a `application/csp-report` body (`{"csp-report": {...}}`) or a Reporting API batch (`[{"body": {...}}]`)."""
    try:
        document = json.loads(raw)
    except ValueError:
        return []
    if isinstance(document, dict) and isinstance(document.get("csp-report"), dict):
        return [document["csp-report"]]
    if isinstance(document, list):
        return [r["body"] for r in document[:20] if isinstance(r, dict) and isinstance(r.get("body"), dict)]
    return []


@router.get("/snapshot/", responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody, "description": "Not an admin."}})
async def status_data(resources: ResourcesDep, claims: Annotated[Claims, Depends(required_bearer)]) -> dict[str, Any]:
    """What the status page shows, once: breakers, failures, quotas, cache hit rate, queue depths (admins only)."""
    if not is_admin(claims, resources.settings):
        raise ApiError(403, "The status page is for administrators.", "permission_denied")
    return await status_snapshot(resources)
