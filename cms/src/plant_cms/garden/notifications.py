"""Where members' reminders go: a notification backend chosen by `NOTIFICATION_BACKEND`.

- `console`: one JSON line per notification on standard output (development).
- `file`: one JSON line per notification appended to `NOTIFICATION_FILE_PATH` (tests read it).

The CMS knows members only by their `sub`; a delivering backend (mail through the auth service's
address book, push) resolves the address itself.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone


@dataclass(frozen=True)
class Notification:
    recipient_sub: str
    kind: str
    subject: str
    body: str
    data: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> str:
        return json.dumps({"sent_at": timezone.now().isoformat(), **asdict(self)}, ensure_ascii=False, sort_keys=True)


class NotificationBackend(Protocol):
    def send(self, notification: Notification) -> None:
        """Deliver one notification; raise on failure (the caller retries another day's run)."""


class ConsoleBackend:
    def send(self, notification: Notification) -> None:
        sys.stdout.write(notification.as_json() + "\n")
        sys.stdout.flush()


class FileBackend:
    """Appends JSON lines to a file; a lock keeps concurrent lines of one process whole."""

    _lock = threading.Lock()

    def __init__(self, path: Path) -> None:
        self.path = path

    def send(self, notification: Notification) -> None:
        line = (notification.as_json() + "\n").encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            # O_APPEND: several processes may write; each line goes in with one write call.
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)


def get_backend() -> NotificationBackend:
    """The configured backend.

    Raises:
        ImproperlyConfigured: an unknown backend name, or `file` without a path.
    """
    name = settings.NOTIFICATION_BACKEND
    if name == "console":
        return ConsoleBackend()
    if name == "file":
        if not settings.NOTIFICATION_FILE_PATH:
            raise ImproperlyConfigured("CMS_NOTIFICATION_BACKEND=file needs CMS_NOTIFICATION_FILE_PATH=/path/to/notifications.jsonl")
        return FileBackend(Path(settings.NOTIFICATION_FILE_PATH))
    raise ImproperlyConfigured(f"CMS_NOTIFICATION_BACKEND={name!r} is not a backend: use console or file")
