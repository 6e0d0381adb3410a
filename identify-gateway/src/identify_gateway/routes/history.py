"""`…/history/`: a user's own identifications (token required; another user's ids are 404)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from identify_gateway.access import HistoryOwner
from identify_gateway.deps import ResourcesDep
from identify_gateway.models import IdentificationRequest
from identify_gateway.routes import API_PREFIX
from identify_gateway.schemas import VALIDATION_ERROR, Deleted, ErrorBody, HistoryDetail, HistoryItem, HistoryPage
from plant_shared.errors import ApiError

router = APIRouter(prefix=f"{API_PREFIX}/history", tags=["history"])

MAX_PAGE_SIZE = 100
NOT_FOUND = "No identification with this id in your history."
_AUTH: dict[int | str, dict[str, Any]] = {401: {"model": ErrorBody, "description": "No valid token."}, **VALIDATION_ERROR}
_MISSING: dict[int | str, dict[str, Any]] = {**_AUTH, 404: {"model": ErrorBody, "description": "Unknown id, or not yours."}}


def _item(row: IdentificationRequest) -> dict[str, Any]:
    return {
        "id": row.id, "created_at": row.created_at, "status": row.status, "plant_name": row.plant_name,
        "scientific_name": row.scientific_name, "confidence": row.confidence, "engines": list(row.engines or []),
        "degraded": row.degraded, "cached": row.cached, "image_count": row.image_count, "job_id": row.job_id,
    }  # fmt: skip


def _page_url(request: Request, page: int, size: int) -> str:
    return str(request.url.include_query_params(page=page, page_size=size))


@router.get("/", response_model=HistoryPage, responses=_AUTH)
async def list_history(
    request: Request,
    owner: HistoryOwner,
    resources: ResourcesDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 20,
) -> HistoryPage:
    """List your identifications, newest first (paginated)."""
    found = await resources.history.page(owner, offset=(page - 1) * page_size, limit=page_size)
    last = max(1, -(-found.total // page_size))
    return HistoryPage(
        count=found.total,
        next=_page_url(request, page + 1, page_size) if page < last else None,
        previous=_page_url(request, min(page - 1, last), page_size) if page > 1 else None,
        results=[HistoryItem.model_validate(_item(row)) for row in found.items],
    )


@router.get("/{identification_id}/", response_model=HistoryDetail, responses=_MISSING)
async def read_history_item(identification_id: uuid.UUID, owner: HistoryOwner, resources: ResourcesDep) -> HistoryDetail:
    """Read one of your identifications with the full answer it got."""
    row = await resources.history.get(owner, identification_id)
    if row is None:
        raise ApiError(404, NOT_FOUND, "not_found")
    return HistoryDetail.model_validate({**_item(row), "result": row.result, "error": row.error})


@router.delete("/{identification_id}/", status_code=204, response_class=Response, responses=_MISSING)
async def delete_history_item(identification_id: uuid.UUID, owner: HistoryOwner, resources: ResourcesDep) -> Response:
    """Delete one of your identifications."""
    if not await resources.history.delete(owner, identification_id):
        raise ApiError(404, NOT_FOUND, "not_found")
    return Response(status_code=204)


@router.delete("/", response_model=Deleted, responses=_AUTH)
async def delete_history(owner: HistoryOwner, resources: ResourcesDep) -> Deleted:
    """Delete every identification in your history; answers how many were deleted."""
    return Deleted(deleted=await resources.history.delete_all(owner))
