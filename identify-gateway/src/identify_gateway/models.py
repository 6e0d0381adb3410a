"""The gateway's tables. Alembic migrations in `migrations/` must match these (a test checks)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Uuid,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint names, so later migrations can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class IdentificationStatus(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


TERMINAL = (IdentificationStatus.COMPLETED.value, IdentificationStatus.FAILED.value)
_STATUS_CHECK = "status IN (" + ", ".join(f"'{s.value}'" for s in IdentificationStatus) + ")"


class IdentificationJob(Base):
    """An asynchronous identification (`POST …/identifications/`): one or more plants, each an
    `IdentificationRequest` row (its item) that carries the result and appears in the history.

    `events` is the job's progress as sent over the WebSocket (without results), numbered by
    `event_seq`; `input` holds what the worker needs and history must not keep (the location), and
    is cleared when the job ends.
    """

    __tablename__ = "identification_jobs"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    status: Mapped[str] = mapped_column(String(16), default=IdentificationStatus.QUEUED)
    lane: Mapped[str] = mapped_column(String(16))
    batch: Mapped[bool] = mapped_column(Boolean, server_default=false(), default=False)
    input: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    attempts: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"), default=0)  # deliveries that started it
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONB)  # {"code", "detail"} when failed
    event_seq: Mapped[int] = mapped_column(Integer, server_default=text("0"), default=0)
    events: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"), default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (CheckConstraint(_STATUS_CHECK, name="status"),)


Index("ix_identification_jobs_user_id_created_at", IdentificationJob.user_id, IdentificationJob.created_at.desc())
Index("ix_identification_jobs_created_at", IdentificationJob.created_at)  # retention


class IdentificationRequest(Base):
    """One identification asked for by a user (or an anonymous caller in development) and its result."""

    __tablename__ = "identification_requests"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)  # also the public id
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)  # the auth service's user; NULL when anonymous
    image_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=IdentificationStatus.QUEUED)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)  # the answer exactly as the client got it
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Copied out of `result` for listing and querying without reading the JSON (0002).
    plant_name: Mapped[str | None] = mapped_column(String(255))
    scientific_name: Mapped[str | None] = mapped_column(String(255))
    confidence: Mapped[float | None] = mapped_column(Float)  # 0..1, the top suggestion's combined confidence
    engines: Mapped[list[str]] = mapped_column(ARRAY(String(16)), server_default=text("'{}'"), default=list)  # engines that answered
    degraded: Mapped[bool] = mapped_column(Boolean, server_default=false(), default=False)
    cached: Mapped[bool] = mapped_column(Boolean, server_default=false(), default=False)
    image_count: Mapped[int] = mapped_column(SmallInteger, server_default=text("1"), default=1)
    parameters: Mapped[dict[str, Any] | None] = mapped_column(JSONB)  # language, health, organs (never the location)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Asynchronous identifications (0003): the job this is an item of, its place in the job, why it failed.
    job_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("identification_jobs.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"), default=0)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONB)

    __table_args__ = (CheckConstraint(_STATUS_CHECK, name="status"),)


# History pages: one user's requests, newest first.
Index("ix_identification_requests_user_id_created_at", IdentificationRequest.user_id, IdentificationRequest.created_at.desc())
# Confidence queries (low-confidence answers to review, a user's surest identifications).
Index("ix_identification_requests_confidence", IdentificationRequest.confidence)
Index("ix_identification_requests_user_id_confidence", IdentificationRequest.user_id, IdentificationRequest.confidence.desc())
Index("ix_identification_requests_job_id", IdentificationRequest.job_id)
Index("ix_identification_requests_created_at", IdentificationRequest.created_at)  # retention


class IdentificationUpload(Base):
    """A job's photo, normalised at submission (oriented, metadata stripped, at most the largest size
    an engine takes), kept until the job ends (or the upload retention passes)."""

    __tablename__ = "identification_uploads"

    request_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("identification_requests.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(SmallInteger, primary_key=True)  # images of one plant, in order
    sha256: Mapped[str] = mapped_column(String(64))  # of the bytes as uploaded: the cache key is shared with the sync path
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


Index("ix_identification_uploads_created_at", IdentificationUpload.created_at)
