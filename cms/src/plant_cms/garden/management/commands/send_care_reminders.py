"""Send members their daily care reminder through the notification backend.

    python -m django send_care_reminders                 # once (cron: every 15 minutes or hourly)
    python -m django send_care_reminders --every 900     # long-running: a run every 15 minutes
    python -m django send_care_reminders --at 2026-05-01T09:00:00+00:00   # as if it were then

Idempotent per member and local day: running it again the same day sends nothing twice.
"""

from __future__ import annotations

import signal
import threading
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections
from django.utils import timezone

from plant_cms.garden.notifications import get_backend
from plant_cms.garden.reminders import send_due_reminders


class Command(BaseCommand):
    help = "Send today's care reminders (once per member and local day) through CMS_NOTIFICATION_BACKEND."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--at", default=None, help="Run as if it were this ISO 8601 time (with an offset).")
        parser.add_argument("--every", type=int, default=None, metavar="SECONDS", help="Keep running: one run every SECONDS (60 or more).")

    def handle(self, *args: Any, at: str | None = None, every: int | None = None, **options: Any) -> None:
        now = self._parse_at(at)
        backend = get_backend()
        if every is None:
            if self._run_once(backend, now):
                raise CommandError("some reminders could not be sent; the next run retries them")
            return
        if every < 60:
            raise CommandError("--every must be at least 60 seconds")
        stop = threading.Event()
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda *_: stop.set())
        while not stop.is_set():
            close_old_connections()
            try:
                self._run_once(backend, None)
            except Exception as exc:  # noqa: BLE001 - the database may be away; the next run retries
                self.stderr.write(f"care reminders: run failed ({type(exc).__name__}: {exc})")
            stop.wait(every)

    def _parse_at(self, at: str | None) -> datetime | None:
        if not at:
            return None
        try:
            now = datetime.fromisoformat(at)
        except ValueError:
            raise CommandError("--at must be an ISO 8601 time, e.g. 2026-05-01T09:00:00+00:00") from None
        if timezone.is_naive(now):
            raise CommandError("--at needs a UTC offset, e.g. 2026-05-01T09:00:00+00:00")
        return now

    def _run_once(self, backend: Any, now: datetime | None) -> int:
        """One run; returns how many reminders failed."""
        run = send_due_reminders(backend, now=now)
        self.stdout.write(f"care reminders: {run.sent} sent, {run.already_sent} already sent today, {run.not_yet} not due yet, {run.failed} failed")
        return run.failed
