"""Prometheus helpers: request count and latency by route template and status, plus an access log.

Series are labelled by the route *template* (`/items/{id}`), never the raw path, so that the
number of series stays bounded whatever clients send.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

from plant_shared.request_id import ASGIApp, Receive, Scope, Send

REQUESTS = Counter(
    "http_requests_total", "HTTP requests answered.", ["service", "method", "route", "status"]
)
LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["service", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
UNMATCHED = "unmatched"

access_log = logging.getLogger("access")


def route_template(scope: Scope) -> str:
    """The matched route's template: FastAPI sets `scope["route"]`; Django code sets `scope["route_template"]`."""
    template = scope.get("route_template")
    if template:
        return str(template)
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not path:
        return UNMATCHED
    # Routes of an included router carry their path without the include prefix; recover the
    # prefix as what the concrete path has in front of the rendered route path.
    try:
        rendered = getattr(route, "path_format", path).format(**scope.get("path_params", {}))
    except (KeyError, IndexError, ValueError):
        return str(path)
    concrete = scope.get("path", "")
    if rendered != concrete and concrete.endswith(rendered):
        return concrete[: len(concrete) - len(rendered)] + str(path)
    return str(path)


class ObservabilityMiddleware:
    """Pure ASGI middleware: one metrics sample and one JSON access-log line per HTTP request.

    Args:
        app: the wrapped ASGI app.
        service: value of the `service` label.
        skip_paths: paths not measured (probes and the metrics endpoint itself).
    """

    def __init__(self, app: ASGIApp, *, service: str, skip_paths: frozenset[str] = frozenset({"/metrics", "/livez", "/readyz"})) -> None:
        self.app = app
        self.service = service
        self.skip_paths = skip_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.skip_paths:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client sees if the app dies before answering

        async def send_and_record(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            elapsed = time.perf_counter() - started
            route = route_template(scope)
            method = scope["method"]
            REQUESTS.labels(self.service, method, route, str(status)).inc()
            LATENCY.labels(self.service, method, route).observe(elapsed)
            access_log.info(
                "request",
                extra={
                    "method": method,
                    "path": scope["path"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )


def render_metrics() -> tuple[bytes, str]:
    """The exposition text and its content type, for whatever framework serves `/metrics`."""
    return generate_latest(), CONTENT_TYPE_LATEST
