"""Public health report, routed by the edge (unlike `/readyz`, which stays internal)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from plant_shared.health import run_checks
from pydantic import BaseModel

from auth_service import __version__
from auth_service.probes import dependency_checks

router = APIRouter(prefix="/api/v1/auth", tags=["health"])


class HealthChecks(BaseModel):
    database: bool
    redis: bool
    denylist: bool
    signing_key: bool


class HealthReport(BaseModel):
    status: Literal["ok", "degraded"]
    service: Literal["auth-service"] = "auth-service"
    version: str
    checks: HealthChecks


@router.get("/health/", response_model=HealthReport, responses={503: {"model": HealthReport, "description": "A dependency is down."}})
async def health(request: Request) -> JSONResponse:
    """Report whether the service and its PostgreSQL and Redis answer and a signing key is loaded (503 when not)."""
    ok, report = await run_checks(dependency_checks(request))
    body = HealthReport(
        status="ok" if ok else "degraded",
        version=__version__,
        checks=HealthChecks(**{name: bool(result["ok"]) for name, result in report.items()}),
    )
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)
