"""Jobs in PostgreSQL: created with their items and photos in one transaction, moved forward only by
conditional updates, so that a redelivered or duplicated task can never write a second result.

- A job's items are `identification_requests` rows (`job_id`, `position`): they appear in the
  owner's history from the start (status `queued`) and carry the result when done.
- Every state change is `UPDATE … WHERE status NOT IN ('completed', 'failed')`: the first writer
  wins, any later one changes nothing and learns so from the row count (exactly-once effects).
- Photos (`identification_uploads`) are deleted in the transaction that ends their item.
- Progress events are appended to `identification_jobs.events`, numbered by `event_seq` in the same
  statement: the WebSocket replays them to late listeners and fills gaps from them.

Every read is scoped to the owner when a user is given: another user's job is simply not found.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from identify_gateway.identify.history import result_columns
from identify_gateway.models import TERMINAL, IdentificationJob, IdentificationRequest, IdentificationStatus, IdentificationUpload

_APPEND_EVENT = text(
    "UPDATE identification_jobs SET event_seq = event_seq + 1, "
    "events = events || jsonb_build_array(CAST(:event AS jsonb) || jsonb_build_object('seq', event_seq + 1)) "
    "WHERE id = :id RETURNING event_seq"
)
_FINISH = text(
    "UPDATE identification_jobs SET status = :status, error = CAST(:error AS jsonb), completed_at = now(), input = NULL, "
    "event_seq = event_seq + 1, "
    "events = events || jsonb_build_array(CAST(:event AS jsonb) || jsonb_build_object('seq', event_seq + 1)) "
    "WHERE id = :id AND status NOT IN ('completed', 'failed') RETURNING event_seq"
)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class NewImage:
    sha256: str  # of the bytes as uploaded
    data: bytes = field(repr=False)  # normalised JPEG


@dataclass(frozen=True)
class NewItem:
    id: uuid.UUID
    images: tuple[NewImage, ...]
    organs: tuple[str, ...]
    image_sha256: str  # what history keeps (the image's, or the hash of several images' hashes)
    parameters: dict[str, Any]  # what history keeps of the parameters (never the location)


@dataclass(frozen=True)
class NewJob:
    id: uuid.UUID
    user_id: uuid.UUID
    lane: str
    batch: bool
    items: tuple[NewItem, ...]
    input: dict[str, Any]  # what the worker needs besides the photos (location included; cleared at the end)


@dataclass(frozen=True)
class PendingItem:
    id: uuid.UUID
    position: int
    images: tuple[NewImage, ...]


@dataclass(frozen=True)
class Started:
    """A job a worker may run now: its input and how many deliveries have started it (this one included)."""

    job_id: uuid.UUID
    user_id: uuid.UUID
    attempts: int
    input: dict[str, Any]
    batch: bool


@dataclass(frozen=True)
class JobView:
    job: IdentificationJob
    items: Sequence[IdentificationRequest]

    @property
    def terminal(self) -> bool:
        return self.job.status in TERMINAL


class JobStore:
    """Args:
    sessions: the process's session factory.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    # ---- submission ------------------------------------------------------------------------------

    async def create(self, job: NewJob, first_event: dict[str, Any]) -> None:
        """Store the job (status `queued`, event 1), its items (in the owner's history) and photos, together."""
        async with self._sessions() as session, session.begin():
            session.add(IdentificationJob(
                id=job.id, user_id=job.user_id, status=IdentificationStatus.QUEUED, lane=job.lane, batch=job.batch, input=job.input,
                event_seq=1, events=[{**first_event, "seq": 1}],
            ))  # fmt: skip
            await session.flush()
            for position, item in enumerate(job.items):
                session.add(IdentificationRequest(
                    id=item.id, user_id=job.user_id, image_sha256=item.image_sha256, status=IdentificationStatus.QUEUED,
                    job_id=job.id, position=position, image_count=len(item.images), parameters=item.parameters,
                ))  # fmt: skip
            await session.flush()
            for item in job.items:
                for n, image in enumerate(item.images):
                    session.add(IdentificationUpload(request_id=item.id, position=n, sha256=image.sha256, data=image.data))

    # ---- reading ---------------------------------------------------------------------------------

    async def load(self, job_id: uuid.UUID, *, user_id: uuid.UUID | None = None) -> JobView | None:
        """The job and its items (by position); None when unknown, or not `user_id`'s when given."""
        async with self._sessions() as session:
            query = select(IdentificationJob).where(IdentificationJob.id == job_id)
            if user_id is not None:
                query = query.where(IdentificationJob.user_id == user_id)
            job = await session.scalar(query)
            if job is None:
                return None
            items = await session.scalars(
                select(IdentificationRequest).where(IdentificationRequest.job_id == job_id).order_by(IdentificationRequest.position)
            )
            return JobView(job, list(items))

    async def owner(self, job_id: uuid.UUID) -> uuid.UUID | None:
        """Who the job belongs to (None: no such job)."""
        async with self._sessions() as session:
            return await session.scalar(select(IdentificationJob.user_id).where(IdentificationJob.id == job_id))

    async def events_after(self, job_id: uuid.UUID, seq: int) -> tuple[list[dict[str, Any]], str | None]:
        """The stored events numbered above `seq`, and the job's status (None: the job is gone)."""
        async with self._sessions() as session:
            row = (await session.execute(
                select(IdentificationJob.status, IdentificationJob.events).where(IdentificationJob.id == job_id)
            )).first()  # fmt: skip
        if row is None:
            return [], None
        return [e for e in row.events if int(e.get("seq", 0)) > seq], row.status

    # ---- the worker ------------------------------------------------------------------------------

    async def start(self, job_id: uuid.UUID) -> Started | None:
        """Count a delivery and mark the job (and its waiting items) `processing`; None if it is over or gone."""
        async with self._sessions() as session, session.begin():
            row = (await session.execute(
                update(IdentificationJob)
                .where(IdentificationJob.id == job_id, IdentificationJob.status.not_in(TERMINAL))
                .values(status=IdentificationStatus.PROCESSING, attempts=IdentificationJob.attempts + 1,
                        started_at=func.coalesce(IdentificationJob.started_at, func.now()))
                .returning(IdentificationJob.user_id, IdentificationJob.attempts, IdentificationJob.input, IdentificationJob.batch)
            )).first()  # fmt: skip
            if row is None:
                return None
            await session.execute(
                update(IdentificationRequest)
                .where(IdentificationRequest.job_id == job_id, IdentificationRequest.status == IdentificationStatus.QUEUED)
                .values(status=IdentificationStatus.PROCESSING)
            )
        return Started(job_id=job_id, user_id=row.user_id, attempts=row.attempts, input=row.input or {}, batch=row.batch)

    async def pending_items(self, job_id: uuid.UUID) -> list[PendingItem]:
        """Items not finished yet, with their photos (items finished by an earlier delivery are skipped)."""
        async with self._sessions() as session:
            rows = (await session.execute(
                select(IdentificationRequest.id, IdentificationRequest.position, IdentificationUpload.position.label("n"),
                       IdentificationUpload.sha256, IdentificationUpload.data)
                .join(IdentificationUpload, IdentificationUpload.request_id == IdentificationRequest.id)
                .where(IdentificationRequest.job_id == job_id, IdentificationRequest.status.not_in(TERMINAL))
                .order_by(IdentificationRequest.position, IdentificationUpload.position)
            )).all()  # fmt: skip
        items: dict[uuid.UUID, tuple[int, list[NewImage]]] = {}
        for row in rows:
            items.setdefault(row.id, (row.position, []))[1].append(NewImage(sha256=row.sha256, data=row.data))
        return [PendingItem(id=i, position=p, images=tuple(images)) for i, (p, images) in items.items()]

    async def append_event(self, job_id: uuid.UUID, event: dict[str, Any]) -> int | None:
        """Store a progress event; its number (None: the job is gone)."""
        async with self._sessions() as session, session.begin():
            return await session.scalar(_APPEND_EVENT, {"id": job_id, "event": json.dumps(event)})

    async def complete_item(self, item_id: uuid.UUID, body: dict[str, Any]) -> bool:
        """Store an item's answer and drop its photos; False when it was already finished (or deleted)."""
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(IdentificationRequest)
                .where(IdentificationRequest.id == item_id, IdentificationRequest.status.not_in(TERMINAL))
                .values(status=IdentificationStatus.COMPLETED, result=body, completed_at=datetime.now(UTC), error=None, **result_columns(body))
            )
            await session.execute(delete(IdentificationUpload).where(IdentificationUpload.request_id == item_id))
            return bool(result.rowcount)

    async def fail_item(self, item_id: uuid.UUID, *, code: str, detail: str) -> bool:
        """Mark an item failed with a reason and drop its photos; False when it was already finished."""
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(IdentificationRequest)
                .where(IdentificationRequest.id == item_id, IdentificationRequest.status.not_in(TERMINAL))
                .values(status=IdentificationStatus.FAILED, error={"code": code, "detail": detail}, completed_at=datetime.now(UTC))
            )
            await session.execute(delete(IdentificationUpload).where(IdentificationUpload.request_id == item_id))
            return bool(result.rowcount)

    async def finish(self, job_id: uuid.UUID, *, status: str, error: dict[str, str] | None, event: dict[str, Any]) -> int | None:
        """End the job (its input, the location included, is cleared) with its last event; the event's
        number, or None when the job had already ended (another delivery got there first)."""
        async with self._sessions() as session, session.begin():
            return await session.scalar(_FINISH, {"id": job_id, "status": status, "error": json.dumps(error), "event": json.dumps(event)})

    # ---- retention -------------------------------------------------------------------------------

    async def delete_identifications_before(self, cutoff: datetime, *, batch: int = 1000) -> int:
        """Delete identifications (sync and job items) and jobs created before `cutoff`, in batches."""
        total = 0
        for table in (IdentificationRequest, IdentificationJob):
            while True:
                async with self._sessions() as session, session.begin():
                    ids = select(table.id).where(table.created_at < cutoff).limit(batch).scalar_subquery()
                    deleted = (await session.execute(delete(table).where(table.id.in_(ids)))).rowcount or 0
                total += deleted
                if deleted < batch:
                    break
        return total

    async def delete_uploads_before(self, cutoff: datetime) -> int:
        async with self._sessions() as session, session.begin():
            return (await session.execute(delete(IdentificationUpload).where(IdentificationUpload.created_at < cutoff))).rowcount or 0

    async def unfinished_before(self, cutoff: datetime, *, limit: int = 500) -> list[uuid.UUID]:
        """Jobs still queued or processing that were created before `cutoff` (their photos are due for deletion)."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(IdentificationJob.id).where(IdentificationJob.created_at < cutoff, IdentificationJob.status.not_in(TERMINAL)).limit(limit)
            )
            return list(rows)
