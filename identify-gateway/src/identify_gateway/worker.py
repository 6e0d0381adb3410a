"""The Celery app: `celery -A identify_gateway.worker worker` (add `-Q fast` etc. to serve some lanes only)."""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.signals import setup_logging
from kombu import Queue

from identify_gateway.config import Settings, get_settings
from plant_shared.logging import configure_logging

SERVICE = "identify-gateway-worker"

# Lanes, each a queue that can get its own workers. `priority` is for paying tiers.
LANES = ("fast", "default", "slow", "priority")
DEFAULT_LANE = "default"

# Every task's lane, in this one place; tasks not listed run in `default`.
TASK_ROUTES: dict[str, dict[str, str]] = {
    "identify_gateway.ping": {"queue": "fast"},
}


def celery_config(settings: Settings) -> dict[str, Any]:
    return {
        "broker_url": settings.celery_broker_url,
        "result_backend": settings.celery_result_backend or settings.celery_broker_url,
        # Job state and results live in PostgreSQL; a task keeps a Celery result only if it asks.
        "task_ignore_result": True,
        "result_expires": 3600,
        "task_queues": [Queue(lane, routing_key=lane) for lane in LANES],
        "task_default_queue": DEFAULT_LANE,
        "task_routes": TASK_ROUTES,
        # A task is acknowledged after it ran, so a killed worker's task is delivered again...
        "task_acks_late": True,
        # ...also when only the child process died (otherwise Celery acks it as failed).
        "task_reject_on_worker_lost": True,
        # One message at a time per process: a slow job never holds others hostage in a prefetch buffer.
        "worker_prefetch_multiplier": 1,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "broker_connection_retry_on_startup": True,
        "worker_hijack_root_logger": False,
    }


app = Celery("identify_gateway")
app.config_from_object(celery_config(get_settings()))


@setup_logging.connect
def _json_logs(**_: Any) -> None:
    # Connecting this signal stops Celery from installing its own handlers; ours write JSON lines.
    configure_logging(service=SERVICE, level=get_settings().log_level)


@app.task(name="identify_gateway.ping", ignore_result=False)
def ping() -> str:
    """Prove a worker consumes and answers (the local stack's readiness check)."""
    return "pong"
