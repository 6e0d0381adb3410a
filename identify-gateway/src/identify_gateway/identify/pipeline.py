"""The identification pipeline: one code path for the HTTP route and the Celery worker (jobs/runner.py).

    cache key (SHA-256 of the uploaded bytes + parameters + engine API versions)
      → cache get ── hit: answer, no decoding (not even the header)
      → header check (pixel cap, no decoding)
      → single-flight(key):
            quota skip, breaker check (all unavailable: EnginesUnavailable at once)
            → decode + strip + resize (threads)
            → engines in parallel, each through its breaker with its own time budget
              (GBIF matching starts as soon as an engine has answered)
            → CMS species pages → merge → cache set
      → history row (when the caller is a user) → answer

No FastAPI type appears here: callers translate `UploadRejected` and `EnginesUnavailable`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio
from sqlalchemy.exc import SQLAlchemyError

from identify_gateway.engines.base import EngineFailure, EngineResult, EngineTimeout, ImageRejected, OutOfQuota
from identify_gateway.engines.cms import CmsClient
from identify_gateway.engines.gbif import GbifClient, GbifMatch
from identify_gateway.identify.enrich import Enricher
from identify_gateway.identify.errors import EnginesUnavailable, UploadRejected
from identify_gateway.identify.history import HistoryStore
from identify_gateway.identify.images import inspect_header, normalise_all
from identify_gateway.identify.merge import ANSWERED, EngineOutcome, merge
from identify_gateway.identify.params import IdentifyParams
from identify_gateway.identify.stats import IdentificationStats
from identify_gateway.identify.upload import RawImage
from identify_gateway.metrics import ENGINE_CALLS, ENGINE_LATENCY, HISTORY_ERRORS
from identify_gateway.resilience import BreakerOpen, BreakerSnapshot, EngineBreaker, EngineBusy, QuotaTracker, ResultCache, SingleFlight, cache_key

log = logging.getLogger(__name__)

MERGE_VERSION = "1"  # bump when the merged answer's shape or ranking changes: old cache entries then miss
CACHED_HOWS = frozenset({"hit", "joined", "waited"})  # the answer was not computed for this request
DEFAULT_RETRY_S = {"failed": 5, "timeout": 5, "busy": 1, "rejected_image": 5, "circuit_open": 60, "quota_exhausted": 3600}
MAX_GBIF_NAMES = 8

EventSink = Callable[[str, dict[str, Any]], Awaitable[None]]


class EngineClient(Protocol):
    name: str
    api_version: str
    image_long_side: int
    timeout_s: float

    async def identify(
        self, images: Sequence[bytes], *, latitude: float | None, longitude: float | None, language: str, health: bool, organs: Sequence[str] = ()
    ) -> EngineResult: ...


@dataclass(frozen=True)
class PipelineConfig:
    max_pixels: int
    cache_ttl_s: Mapping[str, int]  # per engine
    degraded_cache_ttl_s: int
    enrichment_budget_s: float
    usage_poll_interval_s: float = 300.0


@dataclass(frozen=True)
class IdentifyInput:
    """One identification to run: who asks (None: anonymous), what, and the id it will be known by."""

    request_id: uuid.UUID
    images: tuple[RawImage, ...]
    params: IdentifyParams
    user_id: uuid.UUID | None = None
    record_history: bool = True  # False: the caller stores the answer itself (the worker, exactly once per job item)

    @property
    def image_sha256(self) -> str:
        return combined_sha256([i.sha256 for i in self.images])


def combined_sha256(hashes: Sequence[str]) -> str:
    """The one hash history keeps: the image's, or for several images the hash of their hashes."""
    if len(hashes) == 1:
        return hashes[0]
    return hashlib.sha256(",".join(hashes).encode()).hexdigest()


@dataclass(frozen=True)
class IdentifyOutcome:
    body: dict[str, Any]
    how: str  # hit | computed | joined | waited | fallback | no_lock


@dataclass
class _EngineRun:
    outcome: EngineOutcome
    matches: dict[str, GbifMatch | None] = field(default_factory=dict)
    gbif_status: str | None = None


class IdentificationPipeline:
    """Run identifications; one instance per process, built in the lifespan (or the worker's boot).

    Args:
        engines: the configured engine clients (Plant.id first).
        disabled: names of known engines that are not configured (reported as `disabled`).
        breakers: one breaker per engine name, plus `gbif` and `cms` when those are used.
        cache: the result cache; single_flight: the stampede guard; quotas: the quota tracker.
        history: where users' identifications are stored.
        config: limits, TTLs and budgets.
        gbif, cms: enrichment clients (None: not used).
        decode_limiter: bounds how many images are decoded at once in this process.
        stats: cluster-wide counts of how answers were obtained (the status page's hit rate).
    """

    def __init__(
        self,
        *,
        engines: Sequence[EngineClient],
        disabled: Sequence[str] = (),
        breakers: Mapping[str, EngineBreaker],
        cache: ResultCache,
        single_flight: SingleFlight,
        quotas: QuotaTracker,
        history: HistoryStore,
        config: PipelineConfig,
        gbif: GbifClient | None = None,
        cms: CmsClient | None = None,
        decode_limiter: anyio.CapacityLimiter | None = None,
        stats: IdentificationStats | None = None,
    ) -> None:
        self.engines = list(engines)
        self.disabled = list(disabled)
        self.breakers = breakers
        self._cache = cache
        self._flight = single_flight
        self.quotas = quotas
        self._history = history
        self.config = config
        self.enricher = Enricher(gbif=gbif, cms=cms, gbif_breaker=breakers.get("gbif"), cms_breaker=breakers.get("cms"), budget_s=config.enrichment_budget_s)
        self._decode_limiter = decode_limiter
        self._stats = stats
        self._usage_polled = -math.inf
        self._background: set[asyncio.Task[Any]] = set()

    @property
    def decode_limiter(self) -> anyio.CapacityLimiter | None:
        return self._decode_limiter

    @property
    def cms_enabled(self) -> bool:
        return self.enricher.cms is not None

    def engine_versions(self) -> dict[str, str]:
        """Every engine and format the answer depends on: a change here misses the cache."""
        versions = {e.name: e.api_version for e in self.engines}
        versions["merge"] = MERGE_VERSION
        versions["gbif"] = "v1" if self.enricher.gbif else "off"
        versions["cms"] = "1" if self.enricher.cms else "off"
        return versions

    # ---- the entry point --------------------------------------------------------------------

    async def refuse_if_all_open(self) -> None:
        """Raise `EnginesUnavailable` when every engine's breaker is open right now.

        For callers to ask before reading the upload: one Redis read per breaker, concurrently, so
        an outage is answered in milliseconds instead of after parsing and hashing the body. Only
        a sure refusal is given here; anything else (a probe due, quotas) is left to `identify`.
        Free while this process last saw any breaker closed: the healthy path pays no Redis read.
        """
        if not self.engines or not all(self.breakers[e.name].last_seen_open for e in self.engines):
            return
        now = time.time()
        snapshots = await asyncio.gather(*(self.breakers[e.name].snapshot() for e in self.engines))
        outcomes: dict[str, EngineOutcome] = {name: EngineOutcome("disabled") for name in self.disabled}
        for engine, snap in zip(self.engines, snapshots, strict=True):
            if (outcome := _open_circuit(snap, now)) is None:
                return
            outcomes[engine.name] = outcome
        for engine in self.engines:
            ENGINE_CALLS.labels(engine.name, "circuit_open").inc()
        raise self._unavailable(outcomes)

    async def identify(self, request: IdentifyInput, *, on_event: EventSink | None = None) -> IdentifyOutcome:
        """Identify the plant on `request.images`.

        Args:
            request: the images (already byte-capped and typed), parameters and caller.
            on_event: optional async callback for progress (`engine_result`, `engine_failed`),
                e.g. the worker's WebSocket events.

        Raises:
            UploadRejected: the images are not acceptable (pixel cap, unreadable, refused by every engine).
            EnginesUnavailable: no engine could answer; nothing was cached or stored.
        """
        key = cache_key(image_sha256=[i.sha256 for i in request.images], params=request.params.cache_params(), engine_versions=self.engine_versions())
        result = await self._cache.get(key)
        how = "hit"  # these exact bytes passed every check before: a hit needs no header read either
        if result is None:
            for raw in request.images:
                inspect_header(raw, max_pixels=self.config.max_pixels)  # bombs stop here, before the lock and any decoding
            result, how = await self._flight.run(key, lambda: self._compute(key, request, on_event), recheck=lambda: self._cache.get(key))
        body = {"success": result.get("success"), "request_id": str(request.request_id), "cached": how in CACHED_HOWS, **result}
        if self._stats is not None:
            self._stats.record(how)
        if request.user_id is not None and request.record_history:
            await self._store(request, body)
        return IdentifyOutcome(body=body, how=how)

    async def _store(self, request: IdentifyInput, body: dict[str, Any]) -> None:
        try:
            await self._history.record(
                request_id=request.request_id, user_id=request.user_id, image_sha256=request.image_sha256,  # type: ignore[arg-type]
                image_count=len(request.images), parameters=request.params.stored(), body=body,
            )  # fmt: skip
        except (SQLAlchemyError, OSError) as exc:
            # The answer is still worth giving; history is what is lost. Readiness reports the database.
            HISTORY_ERRORS.inc()
            log.error("identification %s not stored in the history: %r", request.request_id, exc)

    # ---- computing an answer (inside the single flight) ------------------------------------------

    async def _compute(self, key: str, request: IdentifyInput, on_event: EventSink | None) -> dict[str, Any]:
        params = request.params
        outcomes: dict[str, EngineOutcome] = {name: EngineOutcome("disabled") for name in self.disabled}
        to_call = await self._admissible(params, outcomes)
        if not to_call:
            raise self._unavailable(outcomes)
        normalised = await normalise_all(
            request.images, long_sides={e.image_long_side for e in to_call}, max_pixels=self.config.max_pixels, limiter=self._decode_limiter
        )
        runs = await asyncio.gather(*(self._run_engine(e, [n[e.image_long_side] for n in normalised], params, on_event) for e in to_call))
        matches: dict[str, GbifMatch | None] = {}
        gbif_statuses = []
        for engine, run in zip(to_call, runs, strict=True):
            outcomes[engine.name] = run.outcome
            matches.update(run.matches)
            if run.gbif_status:
                gbif_statuses.append(run.gbif_status)
        answered = [o for o in outcomes.values() if o.status in ANSWERED]
        if not answered:
            if all(o.status in ("rejected_image", "disabled") for o in outcomes.values()):
                raise UploadRejected(422, "image_not_usable", "The identification services could not use this photo; try another one.")
            raise self._unavailable(outcomes)
        pages, cms_status = await self.enricher.species_pages(outcomes, matches)
        enrichment = {"gbif": self.enricher.gbif_status(gbif_statuses), "cms": cms_status}
        body = merge(self._ordered(outcomes), gbif=matches, pages=pages, enrichment=enrichment, health=params.health)
        await self._cache.set(key, body, ttl_s=self._ttl(outcomes, degraded=body["degraded"]))
        return body

    def _ordered(self, outcomes: dict[str, EngineOutcome]) -> dict[str, EngineOutcome]:
        order = [e.name for e in self.engines] + self.disabled
        return {name: outcomes[name] for name in order if name in outcomes}

    async def _admissible(self, params: IdentifyParams, outcomes: dict[str, EngineOutcome]) -> list[EngineClient]:
        """Engines worth calling now: quota left, breaker not known to be open. Costs Redis reads, no engine I/O."""
        now = time.time()
        infos = await asyncio.gather(*(self.quotas.info(e.name) for e in self.engines))
        candidates = []
        for engine, info in zip(self.engines, infos, strict=True):
            cost = 2 if engine.name == "plant_id" and params.health else 1  # a health assessment costs one credit more
            if info is not None and info.is_exhausted(cost=cost, now=now):
                retry = math.ceil(info.reset_at - now) if info.reset_at else DEFAULT_RETRY_S["quota_exhausted"]
                outcomes[engine.name] = EngineOutcome("quota_exhausted", retry_after_s=max(1, retry))
                ENGINE_CALLS.labels(engine.name, "quota_exhausted").inc()
            else:
                candidates.append(engine)
        # Only a breaker this process last saw open is read here (to spare its images the work);
        # any other is checked by its own call, which reads the shared state anyway.
        suspect = [e for e in candidates if self.breakers[e.name].last_seen_open]
        snapshots = dict(zip((e.name for e in suspect), await asyncio.gather(*(self.breakers[e.name].snapshot() for e in suspect)), strict=True))
        admitted = []
        for engine in candidates:
            snap = snapshots.get(engine.name)
            if snap is not None and (outcome := _open_circuit(snap, now)) is not None:
                outcomes[engine.name] = outcome
                ENGINE_CALLS.labels(engine.name, "circuit_open").inc()
            else:
                admitted.append(engine)
        return admitted

    def _unavailable(self, outcomes: Mapping[str, EngineOutcome]) -> EnginesUnavailable:
        waits = [o.retry_after_s or DEFAULT_RETRY_S.get(o.status, 5) for o in outcomes.values() if o.status != "disabled"]
        return EnginesUnavailable(min(waits) if waits else DEFAULT_RETRY_S["circuit_open"], {n: o.status for n, o in outcomes.items()})

    def _ttl(self, outcomes: Mapping[str, EngineOutcome], *, degraded: bool) -> int:
        if degraded:
            return self.config.degraded_cache_ttl_s
        ttls = [self.config.cache_ttl_s.get(n, 0) for n, o in outcomes.items() if o.status in ANSWERED]
        return min(ttls) if ttls else 0

    # ---- one engine --------------------------------------------------------------------------

    async def _run_engine(self, engine: EngineClient, images: list[bytes], params: IdentifyParams, on_event: EventSink | None) -> _EngineRun:
        outcome = await self._call_engine(engine, images, params)
        await _notify(on_event, engine.name, outcome)
        run = _EngineRun(outcome)
        if self.enricher.gbif is not None and outcome.result is not None and outcome.result.candidates:
            names = [c.scientific_name for c in outcome.result.candidates[:MAX_GBIF_NAMES]]
            run.matches, run.gbif_status = await self.enricher.gbif_matches(names)  # while the other engines still run
        return run

    async def _call_engine(self, engine: EngineClient, images: list[bytes], params: IdentifyParams) -> EngineOutcome:
        breaker = self.breakers[engine.name]
        started = time.perf_counter()
        reached = True

        async def call() -> EngineResult:
            return await engine.identify(
                images, latitude=params.latitude, longitude=params.longitude, language=params.language, health=params.health, organs=params.organs
            )

        try:
            result = await breaker.call(call)
        except BreakerOpen as exc:
            reached, outcome = False, EngineOutcome("circuit_open", retry_after_s=exc.retry_after_header(default_s=DEFAULT_RETRY_S["circuit_open"]))
        except EngineBusy:
            reached, outcome = False, EngineOutcome("busy", retry_after_s=DEFAULT_RETRY_S["busy"])
        except OutOfQuota as exc:
            outcome = await self._out_of_quota(engine, breaker, exc)
        except ImageRejected as exc:
            log.warning("%s refused the (normalised) image: %s", engine.name, exc.message)
            outcome = EngineOutcome("rejected_image")
        except EngineTimeout as exc:
            log.warning("%s timed out: %s", engine.name, exc.message)
            outcome = EngineOutcome("timeout")
        except EngineFailure as exc:
            log.warning("%s failed: %s", engine.name, exc.message)
            outcome = EngineOutcome("failed")
        except Exception:  # a bug in parsing must cost one engine, not the request
            log.exception("%s call raised unexpectedly", engine.name)
            outcome = EngineOutcome("failed")
        else:
            outcome = EngineOutcome("no_match" if result.no_match else "ok", result=result)
            await self._record_quota(engine, result)
        elapsed = time.perf_counter() - started
        if reached:
            ENGINE_LATENCY.labels(engine.name).observe(elapsed)
        ENGINE_CALLS.labels(engine.name, outcome.status).inc()
        return EngineOutcome(outcome.status, outcome.result, elapsed * 1000 if reached else None, outcome.retry_after_s)

    async def _out_of_quota(self, engine: EngineClient, breaker: EngineBreaker, exc: OutOfQuota) -> EngineOutcome:
        reset_at = time.time() + exc.reset_in_s if exc.reset_in_s else None
        log.error("%s is out of quota (%s): breaker forced open %s", engine.name, exc.message, "until the reset" if reset_at else "until an operator resets it")
        await breaker.force_open(f"out of quota: {exc.message}"[:200], until_s=reset_at)
        await self.quotas.mark_exhausted(engine.name, reason=exc.message[:200], reset_at=reset_at)
        return EngineOutcome("quota_exhausted", retry_after_s=exc.reset_in_s or DEFAULT_RETRY_S["quota_exhausted"])

    async def _record_quota(self, engine: EngineClient, result: EngineResult) -> None:
        if result.quota is not None and result.quota.remaining is not None:
            reset_at = time.time() + result.quota.reset_in_s if result.quota.reset_in_s else None
            await self.quotas.record(engine.name, remaining=result.quota.remaining, limit=result.quota.limit, reset_at=reset_at)
        if hasattr(engine, "usage") and time.monotonic() - self._usage_polled > self.config.usage_poll_interval_s:
            self._usage_polled = time.monotonic()
            self._spawn(self.refresh_usage(engine))

    async def refresh_usage(self, engine: Any) -> None:
        """Read an engine's usage report (Plant.id `/usage_info`, free) into the quota tracker.

        When the credits are back while the breaker is held open for lack of them, the breaker is
        reset: "the quota reset says otherwise".
        """
        try:
            usage = await engine.usage()
            if usage is None:
                return
            info = await self.quotas.record_plant_id_usage(usage, engine=engine.name)
            breaker = self.breakers[engine.name]
            snap = await breaker.snapshot()
            if snap.forced and (snap.reason or "").startswith("out of quota") and not info.is_exhausted():
                log.warning("%s has credits again (%s left): resetting its breaker", engine.name, info.remaining)
                await breaker.reset()
        except Exception:  # background upkeep: never fatal
            log.exception("reading %s usage failed", engine.name)

    def schedule_usage_refresh(self, *, min_interval_s: float = 60.0) -> None:
        """Read usage reports not read for `min_interval_s`, in the background (health calls this)."""
        if time.monotonic() - self._usage_polled < min_interval_s:
            return
        self._usage_polled = time.monotonic()
        for engine in self.engines:
            if hasattr(engine, "usage"):
                self._spawn(self.refresh_usage(engine))

    def _spawn(self, coroutine: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


def _open_circuit(snap: BreakerSnapshot, now: float) -> EngineOutcome | None:
    """The `circuit_open` outcome of a breaker that lets no call through at `now`; None otherwise (closed, or a probe is due)."""
    if snap.state != "open" or (snap.opened_until is not None and snap.opened_until <= now):
        return None
    retry = math.ceil(snap.opened_until - now) if snap.opened_until else DEFAULT_RETRY_S["circuit_open"]
    return EngineOutcome("circuit_open", retry_after_s=max(1, retry))


async def _notify(on_event: EventSink | None, engine: str, outcome: EngineOutcome) -> None:
    if on_event is None:
        return
    event = "engine_result" if outcome.status in ANSWERED else "engine_failed"
    try:
        await on_event(event, {"engine": engine, **outcome.public()})
    except Exception:  # progress is best effort
        log.exception("progress callback failed for %s", engine)

