"""Structured JSON logs on stdout, each record stamped with the service name and request id."""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

from plant_shared.request_id import current_request_id


class _ContextFilter(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        record.__dict__.pop("color_message", None)  # uvicorn's ANSI-coloured duplicate of the message
        record.request_id = current_request_id()
        return True


def configure_logging(*, service: str, level: str = "INFO") -> None:
    """Route every logger (uvicorn, Django, Celery, ours) to one JSON handler on stdout.

    Args:
        service: name written into every record.
        level: root log level name.
    """
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(_ContextFilter(service))
    handler.setFormatter(
        JsonFormatter(
            "{asctime}{levelname}{name}{message}{service}{request_id}",
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn installs its own handlers; make its loggers propagate to ours instead.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "celery", "django"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # Our access log replaces uvicorn's, which lacks the request id and route.
    logging.getLogger("uvicorn.access").disabled = True
