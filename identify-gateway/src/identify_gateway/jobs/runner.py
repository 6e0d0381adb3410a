"""Running one job in the worker: the same `IdentificationPipeline` as the HTTP route (cache,
single-flight, breakers, quotas, shared through Redis), once per item, with exactly-once effects.

A delivery of a job:

1. `start`: counts the delivery and marks the job `processing` (nothing, if it is over: a
   duplicate delivery stops here). A job whose workers died `job_max_deliveries` times (deliveries
   not explained by a scheduled retry) fails with `worker_lost`: a poison job cannot loop forever.
2. Each unfinished item runs through the pipeline; engine outcomes become `engine_result` /
   `engine_failed` events as they arrive (and, for engines that were not called because the
   answer came from the cache or another request, right after).
3. The answer is written with a conditional update (`complete_item`): a second delivery that
   raced the first changes nothing. Photos are deleted in the same transaction.
4. Faults: no engine could answer (`EnginesUnavailable`) is *transient*: the runner asks for a
   retry with exponential backoff and full jitter (items already answered are kept and skipped
   next time); after `job_max_retries` the item fails with `engines_unavailable` and its unit of
   the user's limit is refunded. A photo no engine can use (`UploadRejected`) is *permanent*: the
   item fails at once with the pipeline's code and sentence, and the unit stays spent (as on the
   sync path, where a refused photo counts).
5. `finish`: a conditional update ends the job with its terminal event; only the delivery that
   did it publishes `completed` / `failed`.

Charging: the user's limit is charged at submission, once per plant, with units named after the job
(`job:<id>:<n>`), so refunds remove exactly those units and are idempotent.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from identify_gateway.config import Settings
from identify_gateway.identify.errors import SERVICE_UNAVAILABLE, EnginesUnavailable, UploadRejected
from identify_gateway.identify.merge import ANSWERED
from identify_gateway.identify.params import IdentifyParams
from identify_gateway.identify.pipeline import IdentificationPipeline, IdentifyInput
from identify_gateway.identify.upload import ImageKind, RawImage
from identify_gateway.jobs.events import JobEvents, event
from identify_gateway.jobs.store import JobStore, PendingItem, Started
from identify_gateway.jobs.views import outcome_fields
from identify_gateway.models import IdentificationStatus
from identify_gateway.resilience import RateLimiter

logger = logging.getLogger(__name__)

WORKER_LOST = "The identification was interrupted too many times and could not be completed."
EXPIRED = "The identification waited too long and was cancelled; please submit the photo again."


def limit_member(job_id: uuid.UUID) -> str:
    """The name of a job's units in the user's rate-limit window (`<member>:<plant number>`)."""
    return f"job:{job_id}"


def limit_key(user_id: uuid.UUID) -> str:
    return f"user:{user_id}"  # as `access.Caller.limit_key`


def backoff_s(retries: int, *, base_s: float, max_s: float, hint_s: float | None = None, rng: random.Random | None = None) -> float:
    """Seconds before retry number `retries + 1`: exponential with full jitter, at least the engines'
    own hint (a breaker's remaining open time), never more than `max_s`."""
    ceiling = min(max_s, base_s * (2**retries))
    delay = (rng or random).uniform(ceiling / 2, ceiling)  # "equal jitter": spread, but never ~0
    if hint_s is not None:
        delay = max(delay, min(hint_s, max_s))
    return round(delay, 3)


@dataclass(frozen=True)
class RunOutcome:
    state: Literal["done", "retry", "gone"]
    retry_in_s: float | None = None


@dataclass(frozen=True)
class _ItemOutcome:
    item: PendingItem
    state: Literal["completed", "failed", "transient"]
    retry_after_s: int | None = None


class JobRunner:
    """Runs deliveries of jobs on one process's resources.

    Args:
        settings: retry and delivery limits.
        pipeline: the shared identification pipeline.
        store: the job store; events: store-then-publish of progress events.
        limiter: the rate limiter the job was charged against (for refunds).
    """

    def __init__(self, settings: Settings, *, pipeline: IdentificationPipeline, store: JobStore, events: JobEvents, limiter: RateLimiter) -> None:
        self._settings = settings
        self._pipeline = pipeline
        self._store = store
        self._events = events
        self._limiter = limiter
        self._locks: dict[uuid.UUID, asyncio.Lock] = {}

    async def run(self, job_id: uuid.UUID, *, retries: int = 0) -> RunOutcome:
        """One delivery of the job; `retries` is how many retries were already scheduled for it."""
        started = await self._store.start(job_id)
        if started is None:
            return RunOutcome("gone")
        self._locks[job_id] = asyncio.Lock()  # events of one job are numbered and published in order
        try:
            return await self._run(started, retries)
        finally:
            self._locks.pop(job_id, None)

    async def _run(self, started: Started, retries: int) -> RunOutcome:
        job_id = started.job_id
        settings = self._settings
        lost = started.attempts - 1 - retries  # deliveries that ended without a result or a scheduled retry: dead workers
        if lost >= settings.job_max_deliveries:
            logger.error("job %s: its worker died %d times: failing it", job_id, lost)
            await self.fail_unfinished(job_id, user_id=started.user_id, code="worker_lost", detail=WORKER_LOST)
            return RunOutcome("done")
        await self._emit(job_id, event("processing", job_id, status="processing", attempt=started.attempts, retry=retries))
        items = await self._store.pending_items(job_id)
        params = _params(started.input)
        async with asyncio.timeout(settings.job_timeout_s):
            outcomes = await asyncio.gather(*(self._run_item(started, item, params[item.position]) for item in items))
        transient = [o for o in outcomes if o.state == "transient"]
        if transient:
            if retries < settings.job_max_retries:
                hint = min(o.retry_after_s or 1 for o in transient)
                delay = backoff_s(retries, base_s=settings.job_retry_base_s, max_s=settings.job_retry_max_s, hint_s=hint)
                logger.warning("job %s: no engine could answer; retry %d in %.1f s", job_id, retries + 1, delay)
                await self._emit(job_id, event("retrying", job_id, status="processing", retry=retries + 1, retry_in_s=delay, reason="engines_unavailable"))
                return RunOutcome("retry", delay)
            for outcome in transient:
                await self._fail_item(started.user_id, job_id, outcome.item, code="service_unavailable", detail=SERVICE_UNAVAILABLE)
        await self.finish(job_id)
        return RunOutcome("done")

    async def _run_item(self, started: Started, item: PendingItem, params: IdentifyParams) -> _ItemOutcome:
        job_id = started.job_id
        reported: set[str] = set()

        async def on_event(name: str, data: dict[str, Any]) -> None:
            reported.add(data["engine"])
            await self._emit(job_id, event(name, job_id, item=str(item.id), position=item.position, **data))

        images = tuple(RawImage(data=i.data, sha256=i.sha256, kind=ImageKind.JPEG) for i in item.images)
        request = IdentifyInput(request_id=item.id, images=images, params=params, user_id=started.user_id, record_history=False)
        try:
            outcome = await self._pipeline.identify(request, on_event=on_event)
        except UploadRejected as exc:
            await self._fail_item(None, job_id, item, code=exc.code, detail=exc.detail)  # the photo's fault: the unit stays spent
            return _ItemOutcome(item, "failed")
        except EnginesUnavailable as exc:
            for engine, status in exc.statuses.items():
                if engine not in reported and status != "disabled":
                    await self._emit(job_id, event("engine_failed", job_id, item=str(item.id), position=item.position, engine=engine, status=status))
            return _ItemOutcome(item, "transient", retry_after_s=exc.retry_after_s)
        body = outcome.body
        for engine, report in (body.get("engines") or {}).items():
            if engine not in reported and report.get("status") != "disabled":
                # Answered without calling this engine now (cache hit, another request's computation).
                name = "engine_result" if report.get("status") in ANSWERED else "engine_failed"
                await self._emit(job_id, event(name, job_id, item=str(item.id), position=item.position, engine=engine, cached=True, **report))
        await self._store.complete_item(item.id, body)
        return _ItemOutcome(item, "completed")

    async def _fail_item(self, user_id: uuid.UUID | None, job_id: uuid.UUID, item: PendingItem, *, code: str, detail: str) -> None:
        """Fail one item; with `user_id`, give its unit of the user's limit back (idempotent)."""
        await self._store.fail_item(item.id, code=code, detail=detail)
        if user_id is not None:
            await self._limiter.refund(limit_key(user_id), member=limit_member(job_id), units=[item.position + 1])

    async def fail_unfinished(self, job_id: uuid.UUID, *, user_id: uuid.UUID, code: str, detail: str) -> None:
        """Fail every item still open (refunding each) and end the job (worker lost, expired)."""
        view = await self._store.load(job_id)
        for row in view.items if view else ():
            if row.status not in (IdentificationStatus.COMPLETED, IdentificationStatus.FAILED):
                await self._fail_item(user_id, job_id, PendingItem(row.id, row.position, ()), code=code, detail=detail)
        await self.finish(job_id, error={"code": code, "detail": detail})

    async def finish(self, job_id: uuid.UUID, *, error: dict[str, str] | None = None) -> None:
        """End the job from its items' states; publish the terminal event if this call ended it."""
        view = await self._store.load(job_id)
        if view is None:
            return
        completed = any(i.status == IdentificationStatus.COMPLETED for i in view.items)
        status = IdentificationStatus.COMPLETED if completed else IdentificationStatus.FAILED
        if status == IdentificationStatus.FAILED and error is None:
            first = next((i.error for i in view.items if i.error), None)
            error = first or {"code": "not_found", "detail": "The identification was deleted before it could finish."}
        if status == IdentificationStatus.COMPLETED:
            error = None
        payload = event(status.value, job_id, status=status.value, error=error)
        async with self._lock(job_id):
            seq = await self._store.finish(job_id, status=status.value, error=error, event=payload)
            if seq is None:
                return  # another delivery ended it first
            view = await self._store.load(job_id)
            if view is not None:
                await self._events.publish(job_id, {**payload, **outcome_fields(view), "seq": seq})

    async def _emit(self, job_id: uuid.UUID, payload: dict[str, Any]) -> None:
        async with self._lock(job_id):
            await self._events.emit(job_id, payload)

    def _lock(self, job_id: uuid.UUID) -> asyncio.Lock:
        return self._locks.get(job_id) or asyncio.Lock()


def _params(job_input: dict[str, Any]) -> dict[int, IdentifyParams]:
    """Each item's parameters from the job's stored input (organs per item, the rest shared)."""
    latitude, longitude = job_input.get("latitude"), job_input.get("longitude")
    common = {"language": job_input.get("language") or "en", "health": bool(job_input.get("health")), "latitude": latitude, "longitude": longitude}
    organs = job_input.get("organs") or []
    return {position: IdentifyParams(organs=tuple(o), **common) for position, o in enumerate(organs)} or {0: IdentifyParams(**common)}
