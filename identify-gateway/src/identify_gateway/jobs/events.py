"""Progress events of a job: stored (numbered) in PostgreSQL, then published on Redis pub/sub.

Publishing side (the worker, and the API at submission): `JobEvents.emit` appends the event to the
job's stored events (which numbers it, `seq`) and publishes it on `gw:job:<id>`. Storing first is
what makes delivery lossless: a listener that misses a message (it connected late, Redis blipped,
its queue overflowed) notices the gap in `seq` or the silence, and re-reads the stored events.

Listening side (the API's WebSockets): one `EventHub` per process holds a single pub/sub connection
for every socket of that process, subscribing to a job's channel while someone listens to it.
Any gateway replica can serve any job's socket: events travel worker → Redis → every replica.

Redis down: publishing is skipped (logged at most every 10 s): listeners catch up from PostgreSQL
at their next re-read (`GATEWAY_WS_RESYNC_S`); the hub reconnects and re-subscribes by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from redis.asyncio import Redis

from identify_gateway.jobs.store import JobStore, now_iso
from identify_gateway.resilience._support import REDIS_ERRORS, QuietLog, dumps, loads

TERMINAL_EVENTS = frozenset({"completed", "failed"})
QUEUE_SIZE = 256  # per listener; past it messages are dropped and the listener re-reads from PostgreSQL
logger = logging.getLogger(__name__)


def event(name: str, job_id: uuid.UUID, **fields: Any) -> dict[str, Any]:
    """An event as stored and sent (the store adds `seq`)."""
    return {"event": name, "job_id": str(job_id), "at": now_iso(), **fields}


def channel(prefix: str, job_id: uuid.UUID | str) -> str:
    # Pub/sub channels are server-wide (not per logical database): the key prefix keeps deployments
    # and test runs sharing one Redis apart.
    return f"{prefix}job:{job_id}"


class JobEvents:
    """Store-then-publish of a job's events.

    Args:
        store: the job store (numbers and keeps the events).
        redis: the process's shared async client (publishing).
        prefix: the gateway's key prefix.
    """

    def __init__(self, store: JobStore, redis: Redis, *, prefix: str) -> None:
        self._store = store
        self._redis = redis
        self.prefix = prefix
        self._quiet = QuietLog(logger)

    async def emit(self, job_id: uuid.UUID, payload: dict[str, Any]) -> int | None:
        """Store `payload` as the job's next event and publish it; its `seq` (None: the job is gone)."""
        seq = await self._store.append_event(job_id, payload)
        if seq is not None:
            await self.publish(job_id, {**payload, "seq": seq})
        return seq

    async def publish(self, job_id: uuid.UUID, message: dict[str, Any]) -> None:
        """Publish a live event; `published_at` (Unix time) marks it as live (replayed events have none)."""
        try:
            await self._redis.publish(channel(self.prefix, job_id), dumps({**message, "published_at": time.time()}))
        except REDIS_ERRORS as exc:
            self._quiet.warning("publish", "job event not published (listeners catch up from PostgreSQL): %r", exc)


class EventHub:
    """One pub/sub connection per process, fanned out to every local listener of a job.

    Args:
        redis_url: the gateway's Redis (a connection of its own, outside the command pool).
        prefix: the gateway's key prefix.
        confirm_timeout_s: how long `listen` waits for Redis to confirm a new subscription before
            going on (a listener re-reads the stored events anyway).
    """

    def __init__(self, redis_url: str, *, prefix: str, confirm_timeout_s: float = 1.0) -> None:
        self._redis = Redis.from_url(redis_url, socket_connect_timeout=2, socket_keepalive=True, health_check_interval=15)
        self.prefix = prefix
        self.confirm_timeout_s = confirm_timeout_s
        self._hub_channel = f"{prefix}jobs:hub"  # always subscribed: the connection stays in pub/sub mode
        self._pubsub: Any = None
        self._listeners: dict[str, set[asyncio.Queue[dict[str, Any]]]] = {}
        self._confirmed: dict[str, asyncio.Future[None]] = {}
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._quiet = QuietLog(logger)

    @property
    def listening(self) -> int:
        return sum(len(queues) for queues in self._listeners.values())

    @asynccontextmanager
    async def listen(self, job_id: uuid.UUID | str) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
        """A queue receiving the job's published events while the block runs (subscribed on entry)."""
        name = channel(self.prefix, job_id)
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=QUEUE_SIZE)
        self._start()
        async with self._lock:
            queues = self._listeners.setdefault(name, set())
            first = not queues
            queues.add(queue)
            if first:
                self._confirmed[name] = asyncio.get_running_loop().create_future()
                if self._pubsub is not None:
                    try:
                        await self._pubsub.subscribe(name)
                    except REDIS_ERRORS as exc:
                        self._quiet.warning("subscribe", "job events: subscribe failed, the reader reconnects: %r", exc)
            confirmed = self._confirmed.get(name)
        if confirmed is not None and not confirmed.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(confirmed), self.confirm_timeout_s)
        try:
            yield queue
        finally:
            async with self._lock:
                queues.discard(queue)
                if not queues and self._listeners.get(name) is queues:
                    del self._listeners[name]
                    self._confirmed.pop(name, None)
                    if self._pubsub is not None:
                        try:
                            await self._pubsub.unsubscribe(name)
                        except REDIS_ERRORS:
                            pass  # the reader reconnects and subscribes only to what is still listened to

    def _start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="job-event-hub")

    async def _connect(self) -> None:
        async with self._lock:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.subscribe(self._hub_channel, *self._listeners)
            except BaseException:
                await pubsub.aclose()
                raise
            self._pubsub = pubsub

    async def _drop(self) -> None:
        async with self._lock:
            pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(*REDIS_ERRORS):
                await pubsub.aclose()

    async def _run(self) -> None:
        while True:
            try:
                if self._pubsub is None:
                    await self._connect()
                message = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except (*REDIS_ERRORS, RuntimeError) as exc:
                self._quiet.warning("read", "job events: pub/sub connection lost, reconnecting: %r", exc)
                await self._drop()
                await asyncio.sleep(0.5)
                continue
            if message is not None:
                self._dispatch(message)

    def _dispatch(self, message: dict[str, Any]) -> None:
        name = message.get("channel")
        name = name.decode() if isinstance(name, bytes) else str(name)
        kind = message.get("type")
        if kind == "subscribe":
            future = self._confirmed.get(name)
            if future is not None and not future.done():
                future.set_result(None)
            return
        if kind != "message":
            return
        try:
            data = loads(message["data"])
        except ValueError:
            logger.warning("job events: unreadable message on %s dropped", name)
            return
        for queue in list(self._listeners.get(name, ())):
            try:
                queue.put_nowait(data)
            except asyncio.QueueFull:
                pass  # a stuck listener: it sees the gap in `seq` and re-reads from PostgreSQL

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._drop()
        await self._redis.aclose()
