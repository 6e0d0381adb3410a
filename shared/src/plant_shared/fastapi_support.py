"""Glue for the FastAPI services: error envelope handlers, probes, metrics and request ids.

Needs the `fastapi` extra of this package.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from plant_shared.errors import ApiError, default_code, error_body
from plant_shared.health import Check, run_checks
from plant_shared.metrics import ObservabilityMiddleware, render_metrics
from plant_shared.request_id import RequestIdMiddleware

log = logging.getLogger(__name__)

ReadyChecks = Callable[[Request], dict[str, Check]]


def _describe_validation(exc: RequestValidationError) -> str:
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "request"
    return f"Invalid request: {where}: {first.get('msg', 'invalid value')}."


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error, including unexpected ones, with the `{"detail", "code"}` envelope."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.detail, exc.code), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else "Request failed."
        if detail == HTTPStatus(exc.status_code).phrase:  # Starlette's bare phrase: make it a sentence
            detail = detail.capitalize() + "."
        return JSONResponse(error_body(detail, default_code(exc.status_code)), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")} for e in exc.errors()]
        return JSONResponse(error_body(_describe_validation(exc), "validation_error", errors=errors), status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse(error_body("Internal server error.", "internal_error"), status_code=500)


def add_probes(app: FastAPI, ready_checks: ReadyChecks) -> None:
    """`/livez` (process up), `/readyz` (dependencies answer) and `/metrics`: internal, never routed by the edge."""

    @app.get("/livez", include_in_schema=False)
    async def livez() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> JSONResponse:
        ok, report = await run_checks(ready_checks(request))
        return JSONResponse({"status": "ready" if ok else "not_ready", "checks": report}, status_code=200 if ok else 503)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        body, content_type = render_metrics()
        return Response(body, media_type=content_type)


def instrument(app: FastAPI, *, service: str, ready_checks: ReadyChecks) -> FastAPI:
    """Everything a FastAPI service gets from the start: envelope, probes, metrics, request ids."""
    install_error_handlers(app)
    add_probes(app, ready_checks)
    app.add_middleware(ObservabilityMiddleware, service=service)
    app.add_middleware(RequestIdMiddleware)  # added last = outermost: ids are bound before anything logs
    return app

