"""Consume the auth service's account events (`events:accounts`) and erase deleted accounts' data.

    python -m django consume_account_events            # long-running (the local stack, compose)
    python -m django consume_account_events --once     # what is there now, then exit (tests, cron)
"""

from __future__ import annotations

import signal
import threading
from typing import Any

import redis
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from plant_cms.accounts.events import AccountEventConsumer, default_consumer_name

MAX_BACKOFF = 30.0


class Command(BaseCommand):
    help = "Erase the data of accounts deleted in the auth service (Redis stream events:accounts, consumer group cms)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--once", action="store_true", help="Process what is pending and new now, then exit.")
        parser.add_argument("--consumer", default=None, help="This consumer's name in the group (default: host-pid).")
        parser.add_argument("--block-ms", type=int, default=5_000, help="How long one read waits for new entries.")

    def handle(self, *args: Any, once: bool = False, consumer: str | None = None, block_ms: int = 5_000, **options: Any) -> None:
        block_ms = max(1, min(block_ms, 60_000))
        client = redis.Redis.from_url(
            settings.ACCOUNT_EVENTS_REDIS_URL,
            socket_timeout=block_ms / 1000 + 5,
            socket_connect_timeout=5,
            health_check_interval=30,
        )
        worker = AccountEventConsumer(
            client,
            stream=settings.ACCOUNT_EVENTS_STREAM,
            group=settings.ACCOUNT_EVENTS_GROUP,
            consumer=consumer or default_consumer_name(),
            block_ms=block_ms,
        )
        stop = threading.Event()
        if not once and threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda *_: stop.set())
        try:
            self._run(worker, once=once, stop=stop)
        finally:
            client.close()
        s = worker.stats
        self.stdout.write(f"account events: {s.handled} handled, {s.erased} erased, {s.ignored} ignored, {s.failed} failed")

    def _run(self, worker: AccountEventConsumer, *, once: bool, stop: threading.Event) -> None:
        backoff = 1.0
        while not stop.is_set():
            failed_before = worker.stats.failed
            try:
                worker.ensure_group()
                if once:
                    # Everything available now: rounds without waiting, until one acknowledges nothing.
                    while worker.poll(block=False):
                        pass
                    if worker.stats.failed:
                        raise CommandError("some account events could not be processed; they stay pending for the next run")
                    return
                worker.poll()
            except redis.RedisError as exc:
                if once:
                    raise CommandError(f"Redis unavailable: {type(exc).__name__}") from None
                self.stderr.write(f"account events: Redis unavailable ({type(exc).__name__}); retrying in {backoff:.0f}s")
                stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            if worker.stats.failed > failed_before:
                # The database (most likely) is away: the entries stay pending; wait before retrying.
                stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
            else:
                backoff = 1.0
