"""The deny-list outside the verifiers' hot path: the writers' `deny()` and the verifiers' local mirror.

Writers (the auth service) record a revocation with `deny(redis, key, value, ttl_s)` (or
`deny_sync`): one `MULTI`/`EXEC` doing `SET key value EX ttl_s` and `PUBLISH deny:events
{"key", "value", "expires_at"}`, so a key is never written without its event and events reach
subscribers in the order the keys were written.

Verifiers keep a copy of the whole deny-list in memory (`DenylistMirror` for asyncio,
`SyncDenylistMirror` with a daemon thread for Django) and answer `check(claims)` with dictionary
look-ups, through the same `denylist_keys`/`check_denylist` as the per-request `MGET`, so the
verdicts are identical. The verifiers use the mirror only while it is `fresh`; otherwise they read
Redis with one `MGET` per request, exactly as before. Correctness never depends on the mirror: it
only removes the round trip in the normal case.

How the mirror stays complete (the race analysis):

1. **Subscribe first, then snapshot.** Each session opens a dedicated connection, sends
   `SUBSCRIBE deny:events` and waits for the server's confirmation before the first `SCAN`. Every
   `deny()` committed after the confirmation is delivered to us; every one committed before it is
   already in Redis, so the snapshot (`SCAN MATCH deny:* COUNT 1000`, then per batch one
   `MULTI` of `MGET` + `PTTL`s) reads it. Nothing falls between the two.
2. **Events during the snapshot are applied, and replayed on top of it.** Between snapshot batches
   the mirror drains the subscription: each event is applied at once to the state in use and also
   recorded. When the snapshot is complete, the recorded events are replayed over it in arrival
   order, then the snapshot replaces the state in use. A key's final value is therefore that of
   its last event, i.e. the newest value in Redis, even when the snapshot read an older value
   (this matters for `deny:sub:` cut-offs, which may move); keys without an event since the
   subscription have not been written since, so the snapshot's value is current. Applying an event
   twice is harmless: entries are plain overwrites.
3. **`fresh` is True only while the subscription is connected, the snapshot is loaded, and the
   server was heard from within `max_silence` seconds** (a `PING` goes out every
   `heartbeat_interval`; its `pong` counts). A dropped, killed or silent connection, a failed
   snapshot or a malformed event ends the session: `fresh` turns False at once, the mirror
   reconnects with a bounded exponential backoff, subscribes, snapshots again, and only then is
   fresh again. A revocation written while the mirror is not fresh is caught by the verifiers'
   per-request `MGET`, and by the next snapshot for the mirror itself.
4. **Expiry.** Entries carry the key's expiry (the event's `expires_at`; `now + PTTL` in a
   snapshot) and stop matching at that wall-clock time, as the key stops existing in Redis; they
   are also purged, so memory is bounded by what Redis holds. Writer and verifier clocks are
   assumed NTP-synchronised (skew far below the 30 s leeway every entry has on top of its tokens).
5. **What a not-fresh mirror may still say.** An entry it holds only ever revokes (deny-list keys
   are never deleted early), so `check` answers `REVOKED` from it even when not fresh; `ALLOWED`
   only when fresh; `UNKNOWN` otherwise, and the verifier then asks Redis.
6. **Not read-your-writes.** A fresh mirror applies an event as soon as its task/thread reads
   it: about a millisecond after `deny()` returns on a local network. A verification that
   races a `deny()` by less than that may still pass, like a request already in flight would
   have; anything later is refused.

Limits: a key written without its event (a plain `SET`, not `deny()`) is seen by a fresh mirror
only at its next snapshot (`resync_interval`, and every reconnect); a key deleted in Redis before
it expires stays in the mirror until then. Pub/sub channels are server-wide (not per database):
one deny-list per Redis server. Not for Redis Cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import heapq
import json
import logging
import math
import os
import random
import threading
import time
import weakref
from typing import Any, Sequence

from prometheus_client import Counter, Gauge
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.retry import Retry

from plant_shared.tokens.checks import check_denylist, denylist_keys
from plant_shared.tokens.claims import Claims, TokenError

log = logging.getLogger("plant_shared.tokens")

DENY_EVENTS_CHANNEL = "deny:events"
DENY_KEY_PREFIX = "deny:"
_MAX_KEY_LENGTH = 512

MIRROR_FRESH = Gauge("denylist_mirror_fresh", "1 while the deny-list mirror is subscribed and loaded (verifications skip Redis).")
MIRROR_ENTRIES = Gauge("denylist_mirror_entries", "Deny-list entries held by the mirror.")
MIRROR_EVENTS = Counter("denylist_mirror_events_total", "deny:events messages received by the mirror, by outcome.", ["outcome"])
MIRROR_SNAPSHOTS = Counter("denylist_mirror_snapshots_total", "Deny-list snapshots loaded by the mirror, by outcome.", ["outcome"])
DENYLIST_FALLBACKS = Counter(
    "denylist_mirror_fallbacks_total", "Verifications that read the deny-list from Redis because the mirror was not fresh."
)


class DenylistVerdict(enum.Enum):
    """What the mirror knows about a token (`DenylistMirror.check`)."""

    ALLOWED = "allowed"  # fresh, and no entry matches: no Redis round trip needed
    REVOKED = "revoked"  # an entry matches (fresh or not: entries only ever revoke)
    UNKNOWN = "unknown"  # not fresh and nothing matches locally: ask Redis (`MGET`)


# --- writers ----------------------------------------------------------------------------------


def _entry(key: str, value: str | int | float, ttl_s: int) -> tuple[str, str]:
    """(the value as stored, the event payload) after checking the arguments."""
    if not isinstance(key, str) or not key.startswith(DENY_KEY_PREFIX) or len(key) > _MAX_KEY_LENGTH or key == DENY_EVENTS_CHANNEL:
        raise ValueError("key must be a deny-list key (deny:jti:…, deny:sid:…, deny:sub:…)")
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise TypeError("value must be a str, int or float")
    if isinstance(ttl_s, bool) or not isinstance(ttl_s, int) or ttl_s <= 0:
        raise ValueError("ttl_s must be a positive number of seconds (int)")
    stored = value if isinstance(value, str) else repr(value)  # the same text in Redis and in the event
    payload = json.dumps({"key": key, "value": stored, "expires_at": round(time.time() + ttl_s, 3)}, separators=(",", ":"))
    return stored, payload


async def deny(redis: Any, key: str, value: str | int | float, ttl_s: int) -> int:
    """Write one deny-list entry and announce it, atomically (the only way writers may write one).

    One `MULTI`/`EXEC`: `SET key value EX ttl_s` and `PUBLISH deny:events
    {"key": key, "value": value, "expires_at": <Unix time>}`.

    Args:
        redis: `redis.asyncio.Redis` on the deny-list database.
        key: `deny:jti:<jti>`, `deny:sid:<sid>` or `deny:sub:<sub>`.
        value: stored as text (`"1"`, or the Unix-time cut-off of a `deny:sub:` key).
        ttl_s: seconds until the entry expires; it must outlive every token it can match.

    Returns:
        How many subscribers (verifier mirrors) received the event; 0 is fine (they re-snapshot).

    Raises:
        ValueError, TypeError: bad arguments. RedisError: not written (then nothing was published).
    """
    stored, payload = _entry(key, value, ttl_s)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(key, stored, ex=ttl_s)
        pipe.publish(DENY_EVENTS_CHANNEL, payload)
        _, receivers = await pipe.execute()
    return int(receivers)


def deny_sync(redis: Any, key: str, value: str | int | float, ttl_s: int) -> int:
    """`deny` for a synchronous `redis.Redis`: same transaction, same event, same return value."""
    stored, payload = _entry(key, value, ttl_s)
    with redis.pipeline(transaction=True) as pipe:
        pipe.set(key, stored, ex=ttl_s)
        pipe.publish(DENY_EVENTS_CHANNEL, payload)
        _, receivers = pipe.execute()
    return int(receivers)


# --- the mirror's state and rules (no I/O) ----------------------------------------------------


class _MalformedEvent(Exception):
    """A deny:events message that cannot be applied: the mirror re-snapshots rather than guess."""


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, (bytes, bytearray)) else str(value)


class _Entries:
    """Deny-list entries by key, each with its expiry (wall clock, None: never), plus an expiry heap.

    Written by one task/thread (the mirror's), read by any: single dict operations only.
    """

    __slots__ = ("values", "_heap")

    def __init__(self) -> None:
        self.values: dict[str, tuple[bytes | str, float | None]] = {}
        self._heap: list[tuple[float, str]] = []

    def put(self, key: str, value: bytes | str, expires_at: float | None) -> None:
        self.values[key] = (value, expires_at)
        if expires_at is not None:
            heapq.heappush(self._heap, (expires_at, key))
            if len(self._heap) > 2 * len(self.values) + 1024:  # overwritten keys leave stale heap items
                self._heap = [(exp, k) for k, (_, exp) in self.values.items() if exp is not None]
                heapq.heapify(self._heap)

    def get(self, key: str, now: float) -> bytes | str | None:
        entry = self.values.get(key)
        if entry is None:
            return None
        value, expires_at = entry
        if expires_at is not None and expires_at <= now:
            return None  # expired in Redis too; purged later
        return value

    def purge(self, now: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, key = heapq.heappop(heap)
            entry = self.values.get(key)
            if entry is not None and entry[1] is not None and entry[1] <= now:
                del self.values[key]


def _parse_event(data: Any) -> tuple[str, str, float | None]:
    try:
        event = json.loads(data)
        key, value, expires_at = event["key"], event["value"], event.get("expires_at")
    except (ValueError, TypeError, KeyError, RecursionError):
        raise _MalformedEvent("not a deny-list event") from None
    if (
        not isinstance(key, str)
        or not key.startswith(DENY_KEY_PREFIX)
        or len(key) > _MAX_KEY_LENGTH
        or not isinstance(value, str)
        or isinstance(expires_at, bool)
        or not (expires_at is None or (isinstance(expires_at, (int, float)) and math.isfinite(expires_at)))
    ):
        raise _MalformedEvent("not a deny-list event")
    return key, value, None if expires_at is None else float(expires_at)


def _subscriber_connection(pool: Any, client_name: str, retry: Any) -> Any:
    """A new connection with the pool's settings, outside the pool, never reconnecting by itself.

    The mirror drives it directly (no redis-py `PubSub`): `PubSub` reconnects and re-subscribes
    silently, which would lose the events sent in between without the mirror noticing.
    """
    kwargs = dict(pool.connection_kwargs)
    for name in ("maint_notifications_pool_handler", "maint_notifications_config"):  # pool-level machinery, not ours
        kwargs.pop(name, None)
    for name in ("orig_host_address", "orig_socket_timeout", "orig_socket_connect_timeout"):
        kwargs.pop(name, None)
    kwargs.update(client_name=client_name, health_check_interval=0, protocol=2, retry=retry)  # the mirror retries itself
    if kwargs.get("socket_timeout") is None:
        kwargs["socket_timeout"] = 5.0
    if kwargs.get("socket_connect_timeout") is None:
        kwargs["socket_connect_timeout"] = 5.0
    return pool.connection_class(**kwargs)


class _MirrorBase:
    """What both mirrors share: the entries, freshness, event and snapshot rules, the backoff."""

    def __init__(
        self,
        *,
        heartbeat_interval: float,
        max_silence: float,
        reconnect_delay: tuple[float, float],
        resync_interval: float | None,
        scan_count: int,
        client_name: str,
    ) -> None:
        if not 0 < heartbeat_interval < max_silence:
            raise ValueError("need 0 < heartbeat_interval < max_silence")
        low, high = reconnect_delay
        if not 0 < low <= high:
            raise ValueError("reconnect_delay must be (min, max) with 0 < min <= max")
        if resync_interval is not None and resync_interval <= 0:
            raise ValueError("resync_interval must be positive, or None")
        if scan_count < 1:
            raise ValueError("scan_count must be at least 1")
        self.heartbeat_interval = heartbeat_interval
        self.max_silence = max_silence
        self.reconnect_delay = (low, high)
        self.resync_interval = resync_interval
        self.scan_count = scan_count
        self.client_name = client_name
        self._entries = _Entries()
        self._fresh = False
        self._last_heard = -math.inf  # monotonic: the last reply on the subscription
        self._last_ping = -math.inf
        self._last_snapshot = -math.inf
        self._recording: list[tuple[str, str, float | None]] | None = None  # events since a snapshot began
        self.sessions = 0  # subscriptions opened (tests, logs)
        self.was_fresh = False  # the current session has been fresh (resets the backoff)

    # -- reading (any thread / task) --

    @property
    def fresh(self) -> bool:
        """True while subscribed, loaded, and the server was heard from within `max_silence` s."""
        return self._fresh and time.monotonic() - self._last_heard < self.max_silence

    def __len__(self) -> int:
        return len(self._entries.values)

    def clears(self, keys: Sequence[str]) -> bool:
        """True when the mirror is fresh and holds none of `keys`: not revoked, known without I/O.

        The common case of `check` in one expression, for the per-request path; False means
        "ask `check`" (an entry matches, perhaps expired, or the mirror is not fresh).
        """
        return self._fresh and time.monotonic() - self._last_heard < self.max_silence and self._entries.values.keys().isdisjoint(keys)

    def check(self, claims: Claims, keys: Sequence[str] | None = None) -> DenylistVerdict:
        """The deny-list verdict for `claims`, from memory only (no I/O).

        Same keys and rules as the `MGET` path (`denylist_keys`, `check_denylist`): `REVOKED`
        when the `jti` or `sid` entry exists or the `sub` cut-off is at or after `iat`; `ALLOWED`
        when nothing matches and the mirror is fresh; `UNKNOWN` when nothing matches but the
        mirror is not fresh (the caller must ask Redis).

        Args:
            keys: `denylist_keys(claims)` when the caller already has them (the verifier keeps
                them with each verified token); built here otherwise.
        """
        fresh = self.fresh  # read first: the entries can only become more complete afterwards
        entries = self._entries
        if keys is None:
            keys = denylist_keys(claims)
        if not entries.values.keys().isdisjoint(keys):  # rare: judge the live (unexpired) values
            now = time.time()
            try:
                check_denylist(claims, [entries.get(key, now) for key in keys])
            except TokenError:
                return DenylistVerdict.REVOKED
        return DenylistVerdict.ALLOWED if fresh else DenylistVerdict.UNKNOWN

    # -- writing (the mirror's own task / thread only) --

    def _set_fresh(self, fresh: bool) -> None:
        if fresh != self._fresh:
            log.info("deny-list mirror %s", "fresh" if fresh else "not fresh: verifiers read Redis per request")
        self._fresh = fresh
        MIRROR_FRESH.set(1 if fresh else 0)

    def _heard(self) -> None:
        self._last_heard = time.monotonic()

    def _on_reply(self, reply: Any) -> None:
        """One message from the subscription: an event, a `pong`, anything else is ignored."""
        self._heard()
        if not isinstance(reply, (list, tuple)) or not reply:
            return
        kind = _text(reply[0]).lower()
        if kind != "message" or len(reply) < 3:
            return
        try:
            key, value, expires_at = _parse_event(reply[2])
        except _MalformedEvent:
            MIRROR_EVENTS.labels("malformed").inc()
            raise
        self._entries.put(key, value, expires_at)
        if self._recording is not None:
            self._recording.append((key, value, expires_at))
        MIRROR_EVENTS.labels("applied").inc()

    def _subscribed(self, reply: Any) -> None:
        """Check the reply to `SUBSCRIBE` (the server has registered us: events flow from now)."""
        if not (isinstance(reply, (list, tuple)) and len(reply) >= 2 and _text(reply[0]).lower() == "subscribe"):
            raise RedisConnectionError("no confirmation of the deny:events subscription")
        self._heard()
        self.sessions += 1

    def _begin_snapshot(self) -> _Entries:
        self._recording = []
        return _Entries()

    def _load_batch(self, snapshot: _Entries, keys: Sequence[Any], values: Sequence[Any], pttls: Sequence[Any]) -> None:
        now = time.time()
        for key, value, pttl in zip(keys, values, pttls):
            if value is None or not isinstance(pttl, int) or pttl == -2:
                continue  # gone (expired or not a string) between SCAN and MGET
            snapshot.put(_text(key), value, None if pttl < 0 else now + pttl / 1000)

    def _finish_snapshot(self, snapshot: _Entries, connected: bool) -> None:
        for key, value, expires_at in self._recording or ():
            snapshot.put(key, value, expires_at)  # newer than what the snapshot read, in order
        self._recording = None
        snapshot.purge(time.time())
        self._entries = snapshot
        self._last_snapshot = time.monotonic()
        MIRROR_SNAPSHOTS.labels("ok").inc()
        MIRROR_ENTRIES.set(len(snapshot.values))
        if connected:
            self._set_fresh(True)

    def _abandon_snapshot(self) -> None:
        if self._recording is not None:
            MIRROR_SNAPSHOTS.labels("error").inc()
        self._recording = None

    def _resync_due(self) -> bool:
        return (
            self._recording is None
            and self.resync_interval is not None
            and time.monotonic() - self._last_snapshot >= self.resync_interval
        )

    def _ping_due(self) -> bool:
        return time.monotonic() - self._last_ping >= self.heartbeat_interval

    def _pinged(self) -> None:
        self._last_ping = time.monotonic()

    def _check_alive(self) -> None:
        if time.monotonic() - self._last_heard > self.max_silence:
            raise TimeoutError(f"the deny:events subscription was silent for more than {self.max_silence} s")

    def _purge(self) -> None:
        self._entries.purge(time.time())
        MIRROR_ENTRIES.set(len(self._entries.values))

    def _backoff(self, attempt: int) -> float:
        low, high = self.reconnect_delay
        delay = min(high, low * 2 ** min(attempt, 30))
        return random.uniform(delay / 2, delay)

    def _session_failed(self, exc: BaseException) -> None:
        self._set_fresh(False)
        self._abandon_snapshot()
        log.warning("deny-list mirror disconnected; reconnecting", extra={"error": type(exc).__name__})


# --- asyncio ----------------------------------------------------------------------------------


class DenylistMirror(_MirrorBase):
    """The deny-list in memory for an asyncio service, kept current from `deny:events`.

    Start it in the lifespan (`await mirror.start()`), stop it on shutdown (`await mirror.stop()`)
    and hand it to `TokenVerifier(denylist_mirror=...)`. See the module docstring for how it
    stays complete and when it is `fresh`.

    Args:
        redis: `redis.asyncio.Redis` on the deny-list database. The snapshot commands go through
            it; the subscription uses one extra connection made with the same settings.
        heartbeat_interval: seconds between `PING`s on the subscription.
        max_silence: seconds without any reply after which the subscription counts as dead.
        reconnect_delay: (first, longest) pause between reconnection attempts, doubling.
        resync_interval: seconds between snapshots while connected (None: only on reconnect);
            catches keys written without an event, and early deletions.
        scan_count: the `COUNT` of each `SCAN`, and so the size of each `MGET` batch.
        client_name: the subscription's `CLIENT SETNAME`.
    """

    def __init__(
        self,
        redis: Any,
        *,
        heartbeat_interval: float = 1.0,
        max_silence: float = 3.0,
        reconnect_delay: tuple[float, float] = (0.1, 5.0),
        resync_interval: float | None = 300.0,
        scan_count: int = 1000,
        client_name: str = "denylist-mirror",
    ) -> None:
        super().__init__(
            heartbeat_interval=heartbeat_interval,
            max_silence=max_silence,
            reconnect_delay=reconnect_delay,
            resync_interval=resync_interval,
            scan_count=scan_count,
            client_name=client_name,
        )
        self.redis = redis
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self, *, wait: float = 0.0) -> bool:
        """Start mirroring in a background task (idempotent); wait up to `wait` s for it to be fresh.

        Returns `fresh`. Not being fresh yet is fine: verifiers read Redis until it is.
        """
        if not self.running:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="denylist-mirror")
        if wait > 0:
            await self.wait_fresh(wait)
        return self.fresh

    async def wait_fresh(self, timeout: float) -> bool:
        """Wait up to `timeout` s for the mirror to be fresh; returns `fresh`."""
        deadline = time.monotonic() + timeout
        while not self.fresh and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        return self.fresh

    async def stop(self) -> None:
        """Stop the task and close the subscription; `fresh` is False afterwards."""
        task, self._task = self._task, None
        if task is not None:
            # On Python 3.11, `asyncio.wait_for` (redis-py wraps every command in it) can swallow a
            # cancellation that lands as the command completes; deliver it again until the task ends.
            while not task.done():
                task.cancel()
                await asyncio.wait({task}, timeout=0.05)
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._set_fresh(False)
        self._abandon_snapshot()

    async def _run(self) -> None:
        attempt = 0
        while True:
            self.was_fresh = False
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure: not fresh, reconnect
                self._session_failed(exc)
            attempt = 0 if self.was_fresh else attempt + 1
            await asyncio.sleep(self._backoff(attempt))

    async def _session(self) -> None:
        conn = _subscriber_connection(self.redis.connection_pool, self.client_name, AsyncRetry(NoBackoff(), 0))
        try:
            await conn.connect()
            await conn.send_command("SUBSCRIBE", DENY_EVENTS_CHANNEL)
            self._subscribed(await conn.read_response(timeout=self.max_silence))
            self._pinged()
            while True:
                if self._recording is None and (not self._fresh or self._resync_due()):
                    await self._snapshot(conn)
                    self.was_fresh = self.was_fresh or self._fresh
                await self._pump(conn, self.heartbeat_interval)
        finally:
            self._set_fresh(False)
            self._abandon_snapshot()
            with contextlib.suppress(Exception):
                await conn.disconnect()

    async def _pump(self, conn: Any, timeout: float) -> None:
        """Apply what the subscription delivers within `timeout` s (0: what is already there); heartbeat."""
        if not conn.is_connected:
            raise RedisConnectionError("the deny:events subscription is closed")
        reply = await conn.read_response(timeout=timeout)  # None: nothing within timeout
        while reply is not None:
            self._on_reply(reply)
            if not conn.is_connected:
                raise RedisConnectionError("the deny:events subscription is closed")
            reply = await conn.read_response(timeout=0)
        self._check_alive()
        if self._ping_due():
            if not conn.is_connected:  # send_command would reconnect silently, unsubscribed
                raise RedisConnectionError("the deny:events subscription is closed")
            await conn.send_command("PING", check_health=False)
            self._pinged()
        if self._recording is None:
            self._purge()

    async def _snapshot(self, conn: Any) -> None:
        snapshot = self._begin_snapshot()
        cursor = 0
        while True:
            cursor, keys = await self.redis.scan(cursor=cursor, match=DENY_KEY_PREFIX + "*", count=self.scan_count)
            if keys:
                async with self.redis.pipeline(transaction=True) as pipe:
                    pipe.mget(keys)
                    for key in keys:
                        pipe.pttl(key)
                    values, *pttls = await pipe.execute()
                self._load_batch(snapshot, keys, values, pttls)
            await self._pump(conn, 0)  # events keep flowing (and are recorded) during a long snapshot
            if int(cursor) == 0:
                break
        self._finish_snapshot(snapshot, connected=conn.is_connected)


# --- threads (Django) -------------------------------------------------------------------------

_SYNC_MIRRORS: weakref.WeakSet[SyncDenylistMirror] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for mirror in list(_SYNC_MIRRORS):
        mirror._forget_thread()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class SyncDenylistMirror(_MirrorBase):
    """`DenylistMirror` for synchronous code: the same rules, in a daemon thread.

    `start()` / `stop()`, or `autostart=True`: the first `check()` in a process starts the thread
    (after a fork the child starts its own on its first `check()`; threads do not survive a fork).

    Args:
        redis: sync `redis.Redis` on the deny-list database (snapshot commands; the subscription
            uses one extra connection with the same settings).
        autostart: start on first `check()` (what `plant_shared.django_auth` uses).
        Others: as `DenylistMirror`.
    """

    def __init__(
        self,
        redis: Any,
        *,
        autostart: bool = False,
        heartbeat_interval: float = 1.0,
        max_silence: float = 3.0,
        reconnect_delay: tuple[float, float] = (0.1, 5.0),
        resync_interval: float | None = 300.0,
        scan_count: int = 1000,
        client_name: str = "denylist-mirror",
    ) -> None:
        super().__init__(
            heartbeat_interval=heartbeat_interval,
            max_silence=max_silence,
            reconnect_delay=reconnect_delay,
            resync_interval=resync_interval,
            scan_count=scan_count,
            client_name=client_name,
        )
        self.redis = redis
        self.autostart = autostart
        self._thread: threading.Thread | None = None
        self._stop_event = threading.Event()
        self._lifecycle = threading.Lock()
        _SYNC_MIRRORS.add(self)

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def check(self, claims: Claims, keys: Sequence[str] | None = None) -> DenylistVerdict:
        if self._thread is None and self.autostart:
            self.start()
        return super().check(claims, keys)

    def start(self, *, wait: float = 0.0) -> bool:
        """Start the mirror thread (idempotent); wait up to `wait` s for it to be fresh. Returns `fresh`."""
        with self._lifecycle:
            if not self.running:
                self._stop_event = threading.Event()
                self._thread = threading.Thread(target=self._run, args=(self._stop_event,), name="denylist-mirror", daemon=True)
                self._thread.start()
        if wait > 0:
            self.wait_fresh(wait)
        return self.fresh

    def wait_fresh(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.fresh and time.monotonic() < deadline:
            time.sleep(0.005)
        return self.fresh

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread (joined, up to `timeout` s) and close the subscription; no autostart after."""
        with self._lifecycle:
            self.autostart = False
            thread, self._thread = self._thread, None
            self._stop_event.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self._set_fresh(False)

    def _forget_thread(self) -> None:
        """In a forked child: the parent's thread does not exist here; the next `check` restarts."""
        self._thread = None
        self._lifecycle = threading.Lock()
        self._fresh = False
        self._recording = None

    def _run(self, stop: threading.Event) -> None:
        attempt = 0
        while not stop.is_set():
            self.was_fresh = False
            try:
                self._session(stop)
            except Exception as exc:  # noqa: BLE001 - any failure: not fresh, reconnect
                if stop.is_set():
                    break
                self._session_failed(exc)
            attempt = 0 if self.was_fresh else attempt + 1
            stop.wait(self._backoff(attempt))

    def _session(self, stop: threading.Event) -> None:
        conn = _subscriber_connection(self.redis.connection_pool, self.client_name, Retry(NoBackoff(), 0))
        tick = min(self.heartbeat_interval, 0.2)  # how soon stop() is noticed
        try:
            conn.connect()
            conn.send_command("SUBSCRIBE", DENY_EVENTS_CHANNEL)
            if not conn.can_read(timeout=self.max_silence):
                raise RedisConnectionError("no confirmation of the deny:events subscription")
            self._subscribed(conn.read_response())
            self._pinged()
            while not stop.is_set():
                if self._recording is None and (not self._fresh or self._resync_due()):
                    self._snapshot(conn, stop)
                    self.was_fresh = self.was_fresh or self._fresh
                self._pump(conn, tick)
        finally:
            self._set_fresh(False)
            self._abandon_snapshot()
            with contextlib.suppress(Exception):
                conn.disconnect()

    def _pump(self, conn: Any, timeout: float) -> None:
        if not conn.is_connected:  # can_read and send_command would reconnect silently, unsubscribed
            raise RedisConnectionError("the deny:events subscription is closed")
        while conn.can_read(timeout=timeout):
            self._on_reply(conn.read_response())
            if not conn.is_connected:
                raise RedisConnectionError("the deny:events subscription is closed")
            timeout = 0
        self._check_alive()
        if self._ping_due():
            if not conn.is_connected:
                raise RedisConnectionError("the deny:events subscription is closed")
            conn.send_command("PING", check_health=False)
            self._pinged()
        if self._recording is None:
            self._purge()

    def _snapshot(self, conn: Any, stop: threading.Event) -> None:
        snapshot = self._begin_snapshot()
        cursor = 0
        while not stop.is_set():
            cursor, keys = self.redis.scan(cursor=cursor, match=DENY_KEY_PREFIX + "*", count=self.scan_count)
            if keys:
                with self.redis.pipeline(transaction=True) as pipe:
                    pipe.mget(keys)
                    for key in keys:
                        pipe.pttl(key)
                    values, *pttls = pipe.execute()
                self._load_batch(snapshot, keys, values, pttls)
            self._pump(conn, 0)
            if int(cursor) == 0:
                self._finish_snapshot(snapshot, connected=conn.is_connected)
                return
