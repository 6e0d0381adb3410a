"""The Celery app: `celery -A identify_gateway.worker worker -Q <lanes>` and `… beat` (docs/jobs.md).

Tasks are thin: each runs a coroutine on the process's `Runtime`, an event loop in a thread of its
own with the gateway's resources (database pool, Redis, engine clients, the pipeline) opened once
per process and shared by every task it runs. With the default prefork pool each child process has
its own runtime; with `--pool threads`, the threads of one process share one (I/O-bound jobs then
run concurrently in one process).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any, TypeVar

from celery import Task
from celery.signals import setup_logging, worker_process_shutdown, worker_shutdown
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from identify_gateway.config import Settings, get_settings
from identify_gateway.jobs import upkeep
from identify_gateway.jobs.app import create_celery
from identify_gateway.account_events import consume_account_events
from identify_gateway.jobs.lanes import ACCOUNT_EVENTS, CHECK_QUOTAS, IDENTIFY_JOB, LANES, PING, RETENTION, TASK_LANES
from identify_gateway.jobs.runner import backoff_s
from identify_gateway.resources import Resources, open_resources
from plant_shared.errortracking import init_from_settings
from plant_shared.logging import configure_logging

SERVICE = "identify-gateway-worker"
T = TypeVar("T")
log = logging.getLogger(__name__)

INTERNAL_ERROR = "The identification failed because of an error on our side; please try again."
# Faults of the way to the data (not of the job): the job is retried like an engine outage.
TRANSIENT = (SQLAlchemyError, RedisError, OSError, TimeoutError)

__all__ = ["LANES", "TASK_LANES", "app", "runtime"]


class Runtime:
    """One event loop per process, running in a daemon thread, and the resources opened on it once.

    Args:
        settings: what `open_resources` builds from (read lazily: the module is imported by beat too).
    """

    def __init__(self, settings: Callable[[], Settings]) -> None:
        self._settings = settings
        self._guard = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._resources: Resources | None = None
        self._opening: asyncio.Lock | None = None
        self._stack: AsyncExitStack | None = None

    def run(self, fn: Callable[[Resources], Awaitable[T]]) -> T:
        """Run `fn(resources)` on the loop and wait for it (from any thread)."""
        return asyncio.run_coroutine_threadsafe(self._call(fn), self._ensure_loop()).result()

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._guard:
            if self._loop is None:  # created in the process that runs tasks (a forked child), never before the fork
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="gateway-runtime", daemon=True).start()
                self._loop = loop
            return self._loop

    async def _call(self, fn: Callable[[Resources], Awaitable[T]]) -> T:
        if self._resources is None:
            self._opening = self._opening or asyncio.Lock()
            async with self._opening:
                if self._resources is None:
                    stack = AsyncExitStack()
                    self._resources = await stack.enter_async_context(open_resources(self._settings(), verifies_tokens=False))
                    self._stack = stack
        return await fn(self._resources)

    def close(self) -> None:
        """Close the resources and stop the loop (worker shutdown); safe to call more than once."""
        with self._guard:
            loop, self._loop = self._loop, None
        if loop is None:
            return
        if self._stack is not None:
            try:
                asyncio.run_coroutine_threadsafe(self._stack.aclose(), loop).result(timeout=10)
            except Exception:
                log.exception("closing the worker's resources failed")
        self._stack, self._resources = None, None
        loop.call_soon_threadsafe(loop.stop)


app = create_celery(get_settings())
runtime = Runtime(get_settings)


@setup_logging.connect
def _json_logs(**_: Any) -> None:
    # Connecting this signal stops Celery from installing its own handlers; ours write JSON lines.
    configure_logging(service=SERVICE, level=get_settings().log_level)
    # httpx logs every request URL at INFO, and Pl@ntNet's API key travels in the query string.
    logging.getLogger("httpx").setLevel(logging.WARNING)


@setup_logging.connect
def _error_tracking(**_: Any) -> None:
    # Worker and beat both set up logging once, in the parent, before any child is forked.
    init_from_settings(get_settings(), service=SERVICE, distribution="identify-gateway")


@worker_process_shutdown.connect
@worker_shutdown.connect
def _close_runtime(**_: Any) -> None:
    runtime.close()


@app.task(name=PING, ignore_result=False)
def ping() -> str:
    """Prove a worker consumes and answers (the local stack's readiness check)."""
    return "pong"


@app.task(name=IDENTIFY_JOB, bind=True, max_retries=None)
def identify_job(self: Task, job_id: str, tier: str | None = None, plants: int = 1) -> None:
    """Run one delivery of an identification job (`tier` and `plants` choose its lane; see jobs/lanes.py)."""
    settings = get_settings()
    retries = int(self.request.retries or 0)
    job = uuid.UUID(job_id)
    try:
        outcome = runtime.run(lambda resources: resources.runner.run(job, retries=retries))
    except TRANSIENT as exc:
        if retries >= settings.job_max_retries:
            log.error("job %s: giving up after %d retries: %r (retention will expire it)", job_id, retries, exc)
            raise
        delay = backoff_s(retries, base_s=settings.job_retry_base_s, max_s=settings.job_retry_max_s)
        log.warning("job %s: transient fault %r; retry %d in %.1f s", job_id, exc, retries + 1, delay)
        raise self.retry(countdown=delay, exc=exc) from exc
    except Exception:  # a bug: fail the job with a reason (and refund) instead of leaving it `processing`
        log.exception("job %s failed unexpectedly", job_id)
        runtime.run(lambda resources: _fail_internal(resources, job))
        raise
    if outcome.state == "retry":
        raise self.retry(countdown=outcome.retry_in_s)


async def _fail_internal(resources: Resources, job_id: uuid.UUID) -> None:
    owner = await resources.jobs.owner(job_id)
    if owner is not None:
        await resources.runner.fail_unfinished(job_id, user_id=owner, code="internal_error", detail=INTERNAL_ERROR)


@app.task(name=CHECK_QUOTAS)
def check_quotas() -> dict[str, str]:
    """Beat: warn about engines past the quota warning ratio; exhausted engines are skipped by the pipeline."""
    levels = runtime.run(upkeep.check_quotas)
    return {engine: level.level for engine, level in levels.items()}


@app.task(name=RETENTION)
def retention() -> dict[str, int]:
    """Beat: expire stuck jobs, delete stored photos and identifications past their retention."""
    return runtime.run(upkeep.retention)


@app.task(name=ACCOUNT_EVENTS)
def account_events() -> int:
    """Beat: erase the identifications and jobs of accounts deleted in the auth service."""
    return runtime.run(lambda resources: consume_account_events(resources.denylist_redis, resources.history, consumer=socket.gethostname()))
