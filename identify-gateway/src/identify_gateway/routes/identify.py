"""`POST …/identify/`: the synchronous identification (the seed's endpoint, with its body)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from identify_gateway.access import IdentifyCaller, IdentifyGate
from identify_gateway.deps import ResourcesDep
from identify_gateway.engines.plantnet import ORGANS
from identify_gateway.identify.errors import SERVICE_UNAVAILABLE, EnginesUnavailable, UploadRejected
from identify_gateway.identify.params import parse_params
from identify_gateway.identify.pipeline import IdentifyInput
from identify_gateway.identify.upload import read_upload
from identify_gateway.metrics import IDENTIFICATIONS, IDENTIFY_LATENCY, UPLOAD_REJECTIONS
from identify_gateway.routes import API_PREFIX
from identify_gateway.schemas import ErrorBody, IdentificationResponse
from plant_shared.errors import ApiError

router = APIRouter(prefix=f"{API_PREFIX}/identify", tags=["identification"])

_BINARY = {"type": "string", "format": "binary"}
UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "image": {**_BINARY, "description": "The photo: JPEG, PNG, WebP or HEIC, at most 10 MB and 40 MP."},
                        "images": {"type": "array", "items": _BINARY, "maxItems": 5, "description": "Or up to 5 photos of the same plant."},
                        "organs": {"type": "array", "items": {"type": "string", "enum": list(ORGANS)},
                                   "description": "One organ per image, in order (default `auto`)."},
                        "latitude": {"type": "number", "minimum": -90, "maximum": 90, "description": "With `longitude`; rounded to ~100 m."},
                        "longitude": {"type": "number", "minimum": -180, "maximum": 180},
                        "language": {"type": "string", "pattern": "^[a-z]{2}$", "default": "en", "description": "ISO 639-1 code for common names."},
                        "health": {"type": "boolean", "default": False, "description": "Also assess the plant's health (diseases)."},
                    },
                }  # fmt: skip
            }
        },
    },
    # A token is optional here: anonymous callers are served (per client IP) unless
    # GATEWAY_ANONYMOUS_ALLOWED is off, as it is by default in production.
    "security": [{"PlatformBearer": []}, {}],
}
_LIMIT_HEADERS = {
    "RateLimit-Limit": {"schema": {"type": "integer"}, "description": "Identifications allowed per window."},
    "RateLimit-Remaining": {"schema": {"type": "integer"}, "description": "Identifications left in the window."},
    "RateLimit-Reset": {"schema": {"type": "integer"}, "description": "Seconds until the oldest counted request leaves the window."},
}
_RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}}
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"headers": _LIMIT_HEADERS},
    400: {"model": ErrorBody, "description": "Empty image or malformed form."},
    401: {"model": ErrorBody, "description": "No valid token (the seed's sentence when none was sent)."},
    403: {"model": ErrorBody, "description": "A service token was used."},
    413: {"model": ErrorBody, "description": "More than 10 MB, or more pixels than the cap (decompression bombs included)."},
    415: {"model": ErrorBody, "description": "Not a JPEG, PNG, WebP or HEIC image (whatever its name or declared type)."},
    422: {"model": ErrorBody, "description": "Unreadable or truncated image, or an invalid parameter."},
    429: {"model": ErrorBody, "description": "Throttled (the seed's sentence).", "headers": {**_LIMIT_HEADERS, **_RETRY_AFTER}},
    503: {"model": ErrorBody, "description": "No identification engine can answer now.", "headers": _RETRY_AFTER},
}


@router.post("/", response_model=IdentificationResponse, responses=RESPONSES, openapi_extra=UPLOAD_BODY)
async def identify(request: Request, caller: IdentifyCaller, resources: ResourcesDep) -> JSONResponse:
    """Identify the plant on a photo (multipart `image`, or up to 5 `images` of the same plant)."""
    started = time.perf_counter()
    settings = resources.settings
    try:
        await resources.pipeline.refuse_if_all_open()  # an outage answers before admission and before the upload is read
    except EnginesUnavailable as exc:
        raise _unavailable(exc, started) from None
    gate = IdentifyGate(settings, resources.rate_limiter, resources.concurrency)
    try:
        admission = await gate.admit(caller)
    except ApiError:
        IDENTIFICATIONS.labels("throttled").inc()
        raise
    refund = False
    try:
        form = await read_upload(
            request.stream(),
            content_type=request.headers.get("content-type"),
            content_length=request.headers.get("content-length"),
            max_image_bytes=settings.max_upload_bytes,
            max_images=settings.max_images,
            accept=resources.accepted_kinds,
        )
        params = parse_params(form.fields, image_count=len(form.images))
        outcome = await resources.pipeline.identify(IdentifyInput(request_id=uuid.uuid4(), images=form.images, params=params, user_id=caller.user_id))
    except UploadRejected as exc:
        UPLOAD_REJECTIONS.labels(exc.code).inc()
        IDENTIFICATIONS.labels("rejected").inc()
        raise ApiError(exc.status, exc.detail, exc.code, headers=admission.headers) from None
    except EnginesUnavailable as exc:
        refund = True  # no answer was given: the unit goes back to the caller
        raise _unavailable(exc, started) from None
    finally:
        await gate.finish(admission, refund=refund)
    body = outcome.body
    IDENTIFICATIONS.labels("degraded" if body["degraded"] else ("ok" if body["success"] else "no_match")).inc()
    IDENTIFY_LATENCY.labels(outcome.how).observe(time.perf_counter() - started)
    return JSONResponse(body, headers=admission.headers)


def _unavailable(exc: EnginesUnavailable, started: float) -> ApiError:
    """The seed's 503, counted and timed."""
    IDENTIFICATIONS.labels("unavailable").inc()
    IDENTIFY_LATENCY.labels("unavailable").observe(time.perf_counter() - started)
    return ApiError(503, SERVICE_UNAVAILABLE, "service_unavailable", headers={"Retry-After": str(exc.retry_after_s)})
