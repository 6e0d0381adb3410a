"""`/livez`, `/readyz` and `/metrics`: internal endpoints at the root of the CMS's port, never routed by the edge."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_safe
from django_redis import get_redis_connection
from plant_shared.health import run_checks
from plant_shared.metrics import render_metrics


def _database() -> None:
    # Runs in a worker thread of its own, so a stalled PostgreSQL cannot hold the request past the
    # check's timeout; that thread's connection goes back to the pool at once.
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        connection.close()


def _redis() -> None:
    get_redis_connection("default").ping()


@require_safe
def livez(request: HttpRequest) -> JsonResponse:
    """The process is up."""
    return JsonResponse({"status": "alive"})


@require_safe
async def readyz(request: HttpRequest) -> JsonResponse:
    """PostgreSQL and Redis answer: 200, else 503 naming the failing check."""
    ok, report = await run_checks(
        {
            # Each in a thread of its own: the checks run at once, and neither blocks the request.
            "database": sync_to_async(_database, thread_sensitive=False),
            "redis": sync_to_async(_redis, thread_sensitive=False),
        }
    )
    return JsonResponse({"status": "ready" if ok else "not_ready", "checks": report}, status=200 if ok else 503)


@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus exposition of this process's metrics."""
    body, content_type = render_metrics()
    return HttpResponse(body, content_type=content_type)
