"""The identification history in PostgreSQL: written by the pipeline, read and erased by its owner.

Every query is scoped to the owner (`user_id`): another user's id is simply not found (BOLA:
API1 of the OWASP API Top 10), so callers answer 404 without telling whether the id exists.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from identify_gateway.models import IdentificationJob, IdentificationRequest, IdentificationStatus


@dataclass(frozen=True)
class HistoryPage:
    total: int
    items: Sequence[IdentificationRequest]


class HistoryStore:
    """Args:
    sessions: the process's session factory.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def record(
        self, *, request_id: uuid.UUID, user_id: uuid.UUID, image_sha256: str, image_count: int, parameters: dict[str, Any], body: dict[str, Any]
    ) -> None:
        """Store one completed identification with the answer the client got (idempotent on `request_id`)."""
        row = IdentificationRequest(
            id=request_id,
            user_id=user_id,
            image_sha256=image_sha256,
            status=IdentificationStatus.COMPLETED,
            result=body,
            image_count=image_count,
            parameters=parameters,
            completed_at=datetime.now(UTC),
            **result_columns(body),
        )
        async with self._sessions() as session, session.begin():
            await session.merge(row)

    async def page(self, user_id: uuid.UUID, *, offset: int, limit: int) -> HistoryPage:
        """One page of the owner's identifications, newest first."""
        async with self._sessions() as session:
            total = await session.scalar(select(func.count()).select_from(IdentificationRequest).where(IdentificationRequest.user_id == user_id))
            rows = await session.scalars(
                select(IdentificationRequest)
                .where(IdentificationRequest.user_id == user_id)
                .order_by(IdentificationRequest.created_at.desc(), IdentificationRequest.id.desc())
                .offset(offset)
                .limit(limit)
            )
            return HistoryPage(total=int(total or 0), items=list(rows))

    async def get(self, user_id: uuid.UUID, request_id: uuid.UUID) -> IdentificationRequest | None:
        """The owner's identification, or None (unknown, or someone else's)."""
        async with self._sessions() as session:
            return await session.scalar(
                select(IdentificationRequest).where(IdentificationRequest.id == request_id, IdentificationRequest.user_id == user_id)
            )

    async def delete(self, user_id: uuid.UUID, request_id: uuid.UUID) -> bool:
        """Erase one of the owner's identifications; False when there was none to erase."""
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                delete(IdentificationRequest).where(IdentificationRequest.id == request_id, IdentificationRequest.user_id == user_id)
            )
            return bool(result.rowcount)

    async def delete_all(self, user_id: uuid.UUID) -> int:
        """Erase every identification of the owner, and their jobs (also what account deletion will
        call); the count of identifications erased."""
        async with self._sessions() as session, session.begin():
            result = await session.execute(delete(IdentificationRequest).where(IdentificationRequest.user_id == user_id))
            await session.execute(delete(IdentificationJob).where(IdentificationJob.user_id == user_id))
            return int(result.rowcount or 0)


def result_columns(body: dict[str, Any]) -> dict[str, Any]:
    """The columns copied out of an answer for listing and querying without reading the JSON."""
    top = body.get("suggestions") or [{}]
    return {
        "plant_name": _short(body.get("plant_name")),
        "scientific_name": _short(body.get("scientific_name")),
        "confidence": float(body.get("confidence") or 0.0) if top[0] else None,
        "engines": sorted(e for e, s in (body.get("engines") or {}).items() if s.get("status") in ("ok", "no_match")),
        "degraded": bool(body.get("degraded")),
        "cached": bool(body.get("cached")),
    }


def _short(value: Any) -> str | None:
    return value[:255] if isinstance(value, str) else None
