"""One circuit breaker per engine: pybreaker's state machine, its state shared through Redis (`gw:cb:`).

How pybreaker is used from async code (perf notes B6). pybreaker has no asyncio support: its
decorator records success when the coroutine object is *created*, and `call()` holds a lock around
the whole guarded call. So the engine call is never run inside pybreaker. Instead:

1. Before a call, one Redis round trip (a script: HGETALL + TIME) loads the shared state into a
   local mirror that pybreaker uses as its storage (`MirrorStorage`). An open breaker answers
   `BreakerOpen` right there: no engine I/O, no other Redis I/O.
2. Admission (open / half-open / forced open, the one-probe rule, the concurrency cap) is decided
   here, from the mirror.
3. The engine call is awaited outside pybreaker.
4. Its outcome is *replayed* through `CircuitBreaker.call` with a function that returns the result
   or re-raises the exception: pybreaker classifies it (`exclude`), counts it, moves between
   states and notifies listeners (the `[CIRCUIT]` log lines), synchronously, on the mirror.
5. The mirror recorded what pybreaker changed as operations; one Lua script applies them to Redis
   atomically, with the same rules so that processes agree (a failure that brings the shared
   count to `fail_max` trips the breaker even if this process saw fewer; state changes are
   compare-and-set against the state this process believed in). The script answers the new
   shared state, which the mirror adopts.

Half-open: when the reset timeout has passed, callers race for a probe token (`SET NX PX` on
`gw:cb:<name>:probe`) and a process-local flag; exactly one call in the cluster becomes the probe,
everyone else gets `BreakerOpen` until it ends. The token is claimed by a script that compares the
shared state with the one the caller decided on: a caller that read "open, reset timeout passed"
before the previous probe failed (and re-opened the circuit, releasing its token) is refused, so
a failed probe restarts the open period for everyone and there is one probe per period. A probe
that dies leaves a token that expires after `probe_timeout_s`. A cancelled call records nothing (neither success nor failure).

Redis down: **fail safe, locally**. The mirror simply becomes a process-local pybreaker: calls
keep being counted, the breaker still opens after `fail_max` consecutive failures in this process
and still allows one probe at a time (per process). Redis is retried at most every
`redis_retry_s`; when it answers again the shared state wins (the local history of the outage is
dropped, and a still-failing engine trips the breaker again within `fail_max` calls). Failing
open (pybreaker's default fallback state "closed") would send every request to a dead engine;
failing closed would turn a Redis outage into an identification outage.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import pybreaker
from prometheus_client import Counter, Gauge
from redis.asyncio import Redis

from identify_gateway.resilience._breaker_state import (
    CLAIM_LUA,
    FLUSH_LUA,
    FORCE_LUA,
    LOAD_LUA,
    RESET_LUA,
    MirrorStorage,
    SharedState,
)
from identify_gateway.resilience._support import REDIS_ERRORS, QuietLog
from identify_gateway.resilience.errors import BreakerOpen, EngineBusy

T = TypeVar("T")
StateName = Literal["closed", "open", "half_open"]

BREAKER_STATE = Gauge("gateway_breaker_state", "Circuit state per engine: 0 closed, 1 half-open, 2 open.", ["engine"])
BREAKER_CALLS = Counter(
    "gateway_breaker_calls_total",
    "Calls through an engine breaker by outcome: success, failure, excluded (an error that does not count, "
    "e.g. a bad image), rejected (circuit open), busy (concurrency cap), cancelled.",
    ["engine", "outcome"],
)

_GAUGE = {pybreaker.STATE_CLOSED: 0, pybreaker.STATE_HALF_OPEN: 1, pybreaker.STATE_OPEN: 2}
_PUBLIC: dict[str, StateName] = {pybreaker.STATE_CLOSED: "closed", pybreaker.STATE_HALF_OPEN: "half_open", pybreaker.STATE_OPEN: "open"}

LOCAL_PROBE = "local"
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BreakerSnapshot:
    """What health reports for one engine.

    `opened_until` is the Unix time at which a probe will be let through (None when closed or
    half-open, and when forced open with no end). `shared` is False when Redis could not be read
    and the state is this process's own.
    """

    state: StateName
    fail_count: int
    fail_max: int
    opened_until: float | None
    forced: bool = False
    reason: str | None = None
    shared: bool = True


class _CircuitLog(pybreaker.CircuitBreakerListener):
    """The `[CIRCUIT]` log lines and the state gauge."""

    def __init__(self, breaker: EngineBreaker) -> None:
        self._owner = breaker

    def state_change(self, cb: pybreaker.CircuitBreaker, old_state: Any, new_state: Any) -> None:
        BREAKER_STATE.labels(self._owner.name).set(_GAUGE[new_state.name])
        if old_state is None or old_state.name == new_state.name:
            return
        seen = " (seen in the shared state)" if self._owner._adopting else ""
        logger.warning(
            "[CIRCUIT] %s state transition: %s → %s%s",
            self._owner.name, _PUBLIC[old_state.name].upper(), _PUBLIC[new_state.name].upper(), seen,
        )

    def failure(self, cb: pybreaker.CircuitBreaker, exc: BaseException) -> None:
        logger.warning("[CIRCUIT] %s call FAILED - %s", self._owner.name, _describe(exc))


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class EngineBreaker:
    """The circuit breaker of one engine, shared by every process through Redis.

    Semantics: pybreaker's — `fail_max` consecutive counted failures open the circuit; after
    `reset_timeout_s` one probe call goes through; `success_threshold` probe successes close it,
    a probe failure reopens it. An exception for which `excluded(exc)` is True is not a failure
    (pybreaker counts it as a success: the engine answered).

    Redis down: fall back to a process-local pybreaker (see the module docstring).

    Args:
        name: the engine (`plant_id`, `plantnet`); names the Redis keys, metrics and log lines.
        redis: the process's shared async client.
        fail_max: consecutive failures that open the circuit.
        reset_timeout_s: how long the circuit stays open before a probe.
        max_concurrency: calls in flight per process (an `asyncio.Semaphore`).
        excluded: classifier of exceptions that are *not* engine failures (bad image 4xx,
            Pl@ntNet "Species not found"). `asyncio.CancelledError` never counts either way.
        queue_timeout_s: how long a call may wait for a concurrency slot before `EngineBusy`;
            0 (default) fails at once, as Envoy's overflow does.
        probe_timeout_s: lifetime of the cluster-wide probe token; set it above the engine's
            timeout so that only a dead process's probe expires.
        success_threshold: probe successes needed to close (pybreaker's).
        half_open_retry_after_s: `retry_after_s` given to callers turned away while a probe runs.
        redis_retry_s: while Redis is unreachable, retry it at most this often (the rest of the
            time the local state answers without waiting for a connect timeout).
        prefix: key prefix of this concern.
    """

    def __init__(
        self,
        name: str,
        redis: Redis,
        *,
        fail_max: int,
        reset_timeout_s: float,
        max_concurrency: int,
        excluded: Callable[[BaseException], bool] | None = None,
        queue_timeout_s: float = 0.0,
        probe_timeout_s: float = 30.0,
        success_threshold: int = 1,
        half_open_retry_after_s: float = 1.0,
        redis_retry_s: float = 1.0,
        prefix: str = "gw:cb:",
    ) -> None:
        if fail_max < 1 or max_concurrency < 1 or reset_timeout_s <= 0:
            raise ValueError("fail_max and max_concurrency must be at least 1, reset_timeout_s positive")
        self.name = name
        self._redis = redis
        self.fail_max = fail_max
        self.reset_timeout_s = reset_timeout_s
        self.max_concurrency = max_concurrency
        self.queue_timeout_s = queue_timeout_s
        self.probe_timeout_s = probe_timeout_s
        self.half_open_retry_after_s = half_open_retry_after_s
        self.redis_retry_s = redis_retry_s
        self._excluded = excluded
        self._key = f"{prefix}{name}"
        self._probe_key = f"{prefix}{name}:probe"
        self._load = redis.register_script(LOAD_LUA)
        self._flush_script = redis.register_script(FLUSH_LUA)
        self._claim_script = redis.register_script(CLAIM_LUA)
        self._force_script = redis.register_script(FORCE_LUA)
        self._reset_script = redis.register_script(RESET_LUA)

        self._storage = MirrorStorage()
        self._adopting = False
        self._forced = False
        self._forced_until: float | None = None
        self._reason: str | None = None
        self._local_probe = False  # one probe at a time in this process, Redis or not
        self._probe_period: str | None = None  # the open period (raw opened_at) this process's probe claimed
        self._redis_retry_at = 0.0  # monotonic; while in the future, Redis is presumed down
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._quiet = QuietLog(logger)
        self._background: set[asyncio.Task[Any]] = set()
        self._breaker = pybreaker.CircuitBreaker(
            fail_max=fail_max,
            reset_timeout=reset_timeout_s,
            success_threshold=success_threshold,
            exclude=[self._is_excluded],
            listeners=[_CircuitLog(self)],
            state_storage=self._storage,
            name=name,
            throw_new_error_on_trip=False,  # the caller sees the engine's own exception
        )
        BREAKER_STATE.labels(name).set(0)

    # ---- the call ------------------------------------------------------------------------------

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Await `fn()` under the breaker.

        Raises:
            BreakerOpen: the circuit is open, or a probe is already running (no engine call made).
            EngineBusy: `max_concurrency` calls are already in flight in this process.
            Whatever `fn` raises (counted as a failure unless `excluded`).
        """
        seen = await self._refresh()  # what this call decides on (None: the local state answers)
        now = time.time()
        if self._forced and (self._forced_until is None or now < self._forced_until):
            self._reject()
            raise BreakerOpen(self.name, None if self._forced_until is None else self._forced_until - now, reason=self._reason)
        state = self._breaker.state.name
        if state == pybreaker.STATE_OPEN and now < (ready_at := self._ready_at()):
            self._reject()
            raise BreakerOpen(self.name, ready_at - now, reason=self._reason)
        probe = state != pybreaker.STATE_CLOSED

        await self._acquire_slot()
        token: str | None = None
        try:
            if probe:
                token = await self._claim_probe(seen)
                if token is None:
                    self._reject()
                    raise BreakerOpen(self.name, self.half_open_retry_after_s)
                if self._breaker.state.name == pybreaker.STATE_OPEN:
                    self._forced, self._forced_until, self._reason = False, None, None  # a forced opening ends here
                    self._breaker.half_open()
                    await self._flush(None)  # others see half-open while the probe runs
            try:
                value = await fn()
            except asyncio.CancelledError:
                BREAKER_CALLS.labels(self.name, "cancelled").inc()
                raise
            except BaseException as exc:
                self._replay(exc, None, probe=probe)
                await self._flush_after_call(token)
                token = None
                raise
            self._replay(None, value, probe=probe)
            await self._flush_after_call(token)
            token = None
            return value
        finally:
            self._semaphore.release()
            if token is not None:  # cancelled, or refused before the call: free the probe for someone else
                self._end_probe()
                if token != LOCAL_PROBE:
                    self._in_background(self._release_probe(token))

    def _ready_at(self) -> float:
        """When an open circuit lets a probe through (local Unix time)."""
        opened_at = self._storage.opened_at
        ready = (opened_at.timestamp() if opened_at else 0.0) + self.reset_timeout_s
        if self._forced and self._forced_until is not None:
            ready = self._forced_until  # a quota reset time overrides the reset timeout
        return ready

    async def _acquire_slot(self) -> None:
        if self.queue_timeout_s <= 0:
            if self._semaphore.locked():
                BREAKER_CALLS.labels(self.name, "busy").inc()
                raise EngineBusy(self.name, self.max_concurrency)
            await self._semaphore.acquire()  # free: returns without suspending
            return
        try:
            async with asyncio.timeout(self.queue_timeout_s):
                await self._semaphore.acquire()
        except TimeoutError:
            BREAKER_CALLS.labels(self.name, "busy").inc()
            raise EngineBusy(self.name, self.max_concurrency) from None

    async def _claim_probe(self, seen: SharedState | None) -> str | None:
        if self._local_probe:
            return None
        self._local_probe = True  # set before the await: no other call in this process gets past here
        if seen is None:
            return LOCAL_PROBE
        token = secrets.token_hex(12)
        try:
            claimed = await self._claim_script(
                keys=[self._key, self._probe_key], args=[token, int(self.probe_timeout_s * 1000), seen.state, seen.period]
            )
        except REDIS_ERRORS as exc:
            self._redis_down(exc)
            return LOCAL_PROBE
        except BaseException:  # cancelled while claiming: let someone else probe (a claimed token expires)
            self._local_probe = False
            raise
        if claimed:
            self._probe_period = seen.period
            return token
        self._local_probe = False
        return None

    def _replay(self, exc: BaseException | None, value: Any, *, probe: bool) -> None:
        """Let pybreaker count the outcome of a call that already happened."""
        outcome = "success" if exc is None else "failure" if self._breaker.is_system_error(exc) else "excluded"
        BREAKER_CALLS.labels(self.name, outcome).inc()
        expected = pybreaker.STATE_HALF_OPEN if probe else pybreaker.STATE_CLOSED
        if self._breaker.state.name != expected:
            # The state moved while the call ran (another call tripped it, an operator acted): a
            # result from before that is not evidence about the current state.
            return
        if exc is None:
            self._breaker.call(lambda: value)
            return
        traceback = exc.__traceback__

        def replay() -> None:
            raise exc

        try:
            self._breaker.call(replay)
        except BaseException as raised:
            if raised is not exc:
                raise
        finally:
            exc.__traceback__ = traceback  # the caller sees the engine call's traceback, not the replay's

    async def _flush_after_call(self, token: str | None) -> None:
        if token is not None:
            self._end_probe()
        task = self._in_background(self._flush(None if token in (None, LOCAL_PROBE) else token))
        await asyncio.shield(task)  # a cancelled caller must not lose the outcome half-way

    # ---- shared state ---------------------------------------------------------------------------

    async def _refresh(self) -> SharedState | None:
        """Load the shared state into the mirror (one round trip) and return it; None if the local state answers."""
        if time.monotonic() < self._redis_retry_at:
            return None
        try:
            raw = await self._load(keys=[self._key])
        except REDIS_ERRORS as exc:
            self._redis_down(exc)
            return None
        return self._adopt(raw)

    async def _flush(self, probe_token: str | None) -> None:
        ops = self._storage.take_ops()
        if not ops and probe_token is None:
            return
        if time.monotonic() < self._redis_retry_at:
            return  # local mode: the mirror already holds the change
        try:
            raw = await self._flush_script(keys=[self._key, self._probe_key], args=[self.fail_max, probe_token or "", *ops])
        except REDIS_ERRORS as exc:
            self._redis_down(exc)
            return
        self._adopt(raw)

    async def _release_probe(self, token: str) -> None:
        try:
            await self._flush_script(keys=[self._key, self._probe_key], args=[self.fail_max, token])
        except REDIS_ERRORS as exc:
            self._quiet.warning("probe", "[CIRCUIT] %s could not release the probe token (it expires by itself): %r", self.name, exc)

    def _redis_down(self, exc: BaseException) -> None:
        if self._redis_retry_at == 0.0:
            logger.warning("[CIRCUIT] %s shared state unreachable, using this process's state: %r", self.name, exc)
        self._redis_retry_at = time.monotonic() + self.redis_retry_s

    def _adopt(self, raw: list[Any]) -> SharedState:
        """Make the mirror (and pybreaker's cached state object) match the shared state."""
        if self._redis_retry_at:
            logger.warning("[CIRCUIT] %s shared state reachable again; it replaces this process's state", self.name)
            self._redis_retry_at = 0.0
        shared = SharedState.parse(raw)
        if self._probing() and shared.state == pybreaker.STATE_OPEN and shared.period == self._probe_period:
            # Read before this process's probe wrote half-open (another request's refresh): older
            # news. Adopting it would make the probe's outcome look stale and throw it away.
            return shared
        self._set_local(shared.state, shared.fail_count, shared.success_count, shared.opened_at,
                        forced=shared.forced, forced_until=shared.forced_until, reason=shared.reason)
        return shared

    def _end_probe(self) -> None:
        self._local_probe, self._probe_period = False, None

    def _probing(self) -> bool:
        return self._local_probe and self._probe_period is not None and self._storage.state == pybreaker.STATE_HALF_OPEN

    def _set_local(self, state: str, counter: int, successes: int, opened_at: float | None, *,
                   forced: bool, forced_until: float | None, reason: str | None, observed: bool = True) -> None:
        storage = self._storage
        storage.recording = False
        self._adopting = observed
        try:
            storage._state = state
            storage._opened_at = datetime.fromtimestamp(opened_at, UTC) if opened_at is not None else None
            self._breaker.state  # noqa: B018 - pybreaker notices the change and notifies listeners
            storage._counter, storage._success_counter = counter, successes  # undo the listeners' resets
        finally:
            storage.recording = True
            self._adopting = False
        self._forced, self._forced_until, self._reason = forced, forced_until, reason
        BREAKER_STATE.labels(self.name).set(_GAUGE[state])

    def _reject(self) -> None:
        BREAKER_CALLS.labels(self.name, "rejected").inc()

    def _in_background(self, coroutine: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    # ---- operators and health -------------------------------------------------------------------

    async def force_open(self, reason: str, until_s: float | None = None, *, for_s: float | None = None) -> None:
        """Open the circuit regardless of counts, e.g. Plant.id 429 "out of credits".

        It stays open (no probes) until `reset()` or until `until_s`; after that the usual probe
        decides. Redis down: this process alone is forced open.

        Args:
            reason: why (for logs and health; never shown to end users).
            until_s: Unix time at which probing may resume (a quota reset time); None: no end.
            for_s: alternatively, seconds from now.
        """
        if for_s is not None:
            until_s = time.time() + for_s
        now = time.time()
        self._set_local(pybreaker.STATE_OPEN, self._storage.counter, 0, now, forced=True, forced_until=until_s, reason=reason, observed=False)
        logger.warning("[CIRCUIT] %s forced open: %s (%s)", self.name, reason,
                       "until an operator resets it" if until_s is None else f"until {datetime.fromtimestamp(until_s, UTC).isoformat()}")
        self._storage.take_ops()
        try:
            raw = await self._force_script(keys=[self._key, self._probe_key], args=["" if until_s is None else repr(until_s), reason])
        except REDIS_ERRORS as exc:
            self._redis_down(exc)
            return
        self._adopt(raw)

    async def reset(self) -> None:
        """Close the circuit and clear counts and any forced opening (an operator's reset)."""
        self._set_local(pybreaker.STATE_CLOSED, 0, 0, None, forced=False, forced_until=None, reason=None, observed=False)
        self._storage.take_ops()
        self._end_probe()
        try:
            raw = await self._reset_script(keys=[self._key, self._probe_key])
        except REDIS_ERRORS as exc:
            self._redis_down(exc)
            return
        self._adopt(raw)

    @property
    def last_seen_open(self) -> bool:
        """Whether the state this process last saw was open: a hint without I/O, never a decision."""
        return self._storage.state == pybreaker.STATE_OPEN

    async def snapshot(self) -> BreakerSnapshot:
        """The state for health (one Redis read; this process's own state when Redis is down)."""
        shared = await self._refresh() is not None
        state = self._storage.state
        opened_until = None
        if state == pybreaker.STATE_OPEN:
            opened_until = self._forced_until if self._forced else self._ready_at()
        return BreakerSnapshot(
            state=_PUBLIC[state],
            fail_count=self._storage.counter,
            fail_max=self.fail_max,
            opened_until=opened_until,
            forced=self._forced,
            reason=self._reason,
            shared=shared,
        )

    def _is_excluded(self, exc: BaseException) -> bool:
        return self._excluded is not None and bool(self._excluded(exc))
