"""`…/identifications/`: asynchronous identification jobs (202 at once; the worker runs the pipeline)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from identify_gateway.access import HistoryOwner, IdentifyGate, JobCaller
from identify_gateway.deps import ResourcesDep
from identify_gateway.identify.errors import UploadRejected
from identify_gateway.identify.upload import read_upload
from identify_gateway.jobs.events import event
from identify_gateway.jobs.runner import limit_member
from identify_gateway.jobs.submit import build_job, enqueue, plan
from identify_gateway.jobs.views import job_document
from identify_gateway.metrics import JOBS_SUBMITTED, UPLOAD_REJECTIONS
from identify_gateway.routes import API_PREFIX
from identify_gateway.routes.identify import RESPONSES as SYNC_RESPONSES
from identify_gateway.routes.identify import UPLOAD_BODY
from identify_gateway.schemas import VALIDATION_ERROR, ErrorBody, JobAccepted, JobStatus
from plant_shared.errors import ApiError

router = APIRouter(prefix=f"{API_PREFIX}/identifications", tags=["identification jobs"])

WS_PREFIX = "/ws/v1/identifications"
NOT_FOUND = "No identification job with this id."
QUEUE_UNAVAILABLE = "Identification jobs cannot be queued right now. Please try again in a few moments."

_BODY: dict[str, Any] = {"requestBody": {**UPLOAD_BODY["requestBody"]}}
_schema = _BODY["requestBody"]["content"]["multipart/form-data"]["schema"]
_BODY["requestBody"]["content"] = {"multipart/form-data": {"schema": {**_schema, "properties": {
    **_schema["properties"],
    "images": {**_schema["properties"]["images"], "maxItems": 50,
               "description": "Up to 5 photos of the same plant; with `batch=true`, up to 10 photos of different plants."},
    "batch": {"type": "boolean", "default": False, "description": "Each photo is a different plant (one identification, one history entry each)."},
}}}}  # fmt: skip
RESPONSES: dict[int | str, dict[str, Any]] = {
    **{k: v for k, v in SYNC_RESPONSES.items() if k != 200},
    202: {"headers": {**SYNC_RESPONSES[200]["headers"], "Location": {"schema": {"type": "string"}, "description": "The status URL."}}},
    503: {"model": ErrorBody, "description": "The job queue cannot be reached."},
}


def urls(request: Request, job_id: uuid.UUID) -> tuple[str, str]:
    """The status URL and the WebSocket URL of a job, on the origin the client used."""
    base = str(request.base_url).rstrip("/")
    ws_base = "wss" + base[5:] if base.startswith("https") else "ws" + base[4:]
    return f"{base}{API_PREFIX}/identifications/{job_id}/", f"{ws_base}{WS_PREFIX}/{job_id}"


@router.post("/", status_code=202, response_model=JobAccepted, responses=RESPONSES, openapi_extra=_BODY)
async def submit_identification(request: Request, caller: JobCaller, resources: ResourcesDep) -> JSONResponse:
    """Queue an identification (the sync endpoint's form, or `batch=true` for several plants); answers 202 at once."""
    settings = resources.settings
    try:
        form = await read_upload(
            request.stream(), content_type=request.headers.get("content-type"), content_length=request.headers.get("content-length"),
            max_image_bytes=settings.max_upload_bytes, max_images=max(settings.max_images, settings.max_batch_images), accept=resources.accepted_kinds,
        )  # fmt: skip
        batch, params, plants = plan(form, settings)
    except UploadRejected as exc:
        UPLOAD_REJECTIONS.labels(exc.code).inc()
        raise ApiError(exc.status, exc.detail, exc.code) from None
    job_id = uuid.uuid4()
    member = limit_member(job_id)
    gate = IdentifyGate(settings, resources.rate_limiter, resources.concurrency)
    admission = await gate.admit(caller, cost=len(plants), member=member, concurrency=False)
    assert caller.user_id is not None  # a job always has an owner (JobCaller)
    try:
        job = await build_job(
            job_id=job_id, user_id=caller.user_id, tier=caller.tier, batch=batch, params=params, plants=plants, settings=settings,
            limiter=resources.pipeline.decode_limiter,
        )  # fmt: skip
    except UploadRejected as exc:  # the unit stays spent, as on the sync path
        UPLOAD_REJECTIONS.labels(exc.code).inc()
        raise ApiError(exc.status, exc.detail, exc.code, headers=admission.headers) from None
    try:
        await resources.jobs.create(job, event("queued", job_id, status="queued", lane=job.lane, plants=len(job.items)))
        await enqueue(resources.celery, job, tier=caller.tier)
    except Exception as exc:
        await resources.rate_limiter.refund(caller.limit_key, len(plants), member=member)
        if await resources.jobs.owner(job_id) is not None:
            await resources.runner.fail_unfinished(job_id, user_id=caller.user_id, code="queue_unavailable", detail=QUEUE_UNAVAILABLE)
        raise ApiError(503, QUEUE_UNAVAILABLE, "queue_unavailable", headers={"Retry-After": "5"}) from exc
    JOBS_SUBMITTED.labels(job.lane).inc()
    view = await resources.jobs.load(job_id)
    assert view is not None
    status_url, websocket_url = urls(request, job_id)
    document = job_document(view, status_url=status_url, websocket_url=websocket_url)
    body = {k: document[k] for k in JobAccepted.model_fields}
    return JSONResponse(body, status_code=202, headers={**admission.headers, "Location": status_url})


@router.get(
    "/{job_id}/", response_model=JobStatus,
    responses={401: {"model": ErrorBody}, 404: {"model": ErrorBody, "description": "Unknown, or not yours."}, **VALIDATION_ERROR},
)  # fmt: skip
async def read_identification(job_id: uuid.UUID, request: Request, owner: HistoryOwner, resources: ResourcesDep) -> JSONResponse:
    """A job's status, each engine's progress per plant, and the result once done (owner only)."""
    view = await resources.jobs.load(job_id, user_id=owner)
    if view is None:
        raise ApiError(404, NOT_FOUND, "not_found")
    status_url, websocket_url = urls(request, job_id)
    return JSONResponse(job_document(view, status_url=status_url, websocket_url=websocket_url))
