"""The Celery application from settings: broker, lanes, delivery guarantees, beat schedule.

The worker (`identify_gateway.worker`) and the API (to send jobs) build theirs with `create_celery`,
so both always agree on queues and routing.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu import Queue

from identify_gateway.config import Settings
from identify_gateway.jobs.lanes import ACCOUNT_EVENTS, CHECK_QUOTAS, DEFAULT_LANE, LANES, RETENTION, LaneRouter


def celery_config(settings: Settings) -> dict[str, Any]:
    return {
        "broker_url": settings.celery_broker_url,
        "result_backend": settings.celery_result_backend or settings.celery_broker_url,
        # Job state and results live in PostgreSQL; a task keeps a Celery result only if it asks.
        "task_ignore_result": True,
        "result_expires": 3600,
        "task_queues": [Queue(lane, routing_key=lane) for lane in LANES],
        "task_default_queue": DEFAULT_LANE,
        "task_routes": (LaneRouter(settings.priority_tiers),),
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
        "broker_transport_options": {
            # A message a dead worker held (unacknowledged) goes back to its queue after this long;
            # every retry countdown is shorter (GATEWAY_JOB_RETRY_MAX_S), so nothing runs twice by accident.
            "visibility_timeout": settings.celery_visibility_timeout_s,
            # Look for such messages every `interval` seconds (kombu's default sweeps every ~100 s).
            "unacked_restore_interval": max(1, min(10, settings.celery_visibility_timeout_s // 4)),
            "unacked_restore_throttle": 1,
            "global_keyprefix": settings.celery_key_prefix,
            # A broker that vanished without closing the connection must not hang a publish forever.
            "socket_timeout": 15,
            "socket_connect_timeout": 5,
        },
        # A publish that cannot reach the broker fails within seconds (the API answers 503).
        "task_publish_retry_policy": {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1},
        "worker_hijack_root_logger": False,
        "beat_schedule": {
            "check-engine-quotas": {"task": CHECK_QUOTAS, "schedule": settings.quota_check_interval_s},
            "retention": {"task": RETENTION, "schedule": settings.retention_interval_s},
            # Deleted accounts: their identifications are erased within seconds.
            "account-events": {"task": ACCOUNT_EVENTS, "schedule": 5.0},
        },
    }


def create_celery(settings: Settings, *, name: str = "identify_gateway") -> Celery:
    app = Celery(name)
    app.config_from_object(celery_config(settings))
    return app


def queue_key(settings: Settings, lane: str) -> str:
    """The Redis list holding `lane`'s waiting messages (kombu's key, with the global prefix)."""
    return f"{settings.celery_key_prefix}{lane}"
