"""Turning an upload into a job: which photos make which plant, the photos normalised once (oriented,
every piece of metadata, GPS included, stripped) before they are stored, and the job sent to its lane.

Why the photos are stored normalised in PostgreSQL (`identification_uploads`), not raw and not in Redis:
- nothing the user did not mean to share is ever stored (EXIF GPS, camera serials): the stored
  copy is what the engines would have received, at most the largest size any engine takes;
- bombs, truncated and unreadable files are refused synchronously (413/422 on the POST), not
  discovered later by a worker;
- the photo is written in the same transaction as the job and its items, so a job never exists
  without its photos (Redis for the gateway is a cache that may evict or restart empty, while the
  broker's queued message survives); it is deleted in the transaction that ends its item, and the
  retention task removes any left after `upload_retention_s`.
The cost: up to ~10 MB written per job (stored out of line, uncompressed, `STORAGE EXTERNAL`).
The stored bytes keep the *uploaded* bytes' SHA-256, so the cache key is the sync path's: a photo
identified synchronously is a cache hit for a job, and the other way round.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import anyio
from celery import Celery

from identify_gateway.config import Settings
from identify_gateway.identify.errors import UploadRejected
from identify_gateway.identify.images import inspect_header, normalise_all
from identify_gateway.identify.params import IdentifyParams, parse_params
from identify_gateway.identify.pipeline import combined_sha256
from identify_gateway.identify.upload import RawImage, UploadForm
from identify_gateway.jobs.lanes import IDENTIFY_JOB, job_lane
from identify_gateway.jobs.store import NewImage, NewItem, NewJob

STORED_QUALITY = 95  # the stored copy is re-encoded once more by the worker: keep this generation near-lossless
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


def parse_batch(fields: Mapping[str, Sequence[str]]) -> bool:
    values = fields.get("batch")
    raw = (values[-1] if values else "").strip().lower()
    if raw not in _TRUE | _FALSE:
        raise UploadRejected(422, "validation_error", "Invalid request: batch: must be true or false.")
    return raw in _TRUE


def plan(form: UploadForm, settings: Settings) -> tuple[bool, IdentifyParams, list[tuple[RawImage, ...]]]:
    """(batch, parameters, the photos of each plant) from the form.

    Without `batch`, all photos show one plant (at most `max_images`, as the sync endpoint); with
    `batch=true`, each photo is a plant of its own (at most `max_batch_images`), `organs` then
    naming each photo's organ.

    Raises:
        UploadRejected: 422 for too many photos or an invalid field.
    """
    batch = parse_batch(form.fields)
    images = list(form.images)
    if batch and len(images) > settings.max_batch_images:
        raise UploadRejected(422, "too_many_images", f"A batch takes at most {settings.max_batch_images} photos.")
    if not batch and len(images) > settings.max_images:
        raise UploadRejected(
            422, "too_many_images", f"Send at most {settings.max_images} images of the same plant (or set batch=true for photos of different plants)."
        )
    params = parse_params(form.fields, image_count=len(images))
    plants = [(image,) for image in images] if batch else [tuple(images)]
    return batch, params, plants


async def build_job(
    *, job_id: uuid.UUID, user_id: uuid.UUID, tier: str | None, batch: bool, params: IdentifyParams,
    plants: list[tuple[RawImage, ...]], settings: Settings, limiter: anyio.CapacityLimiter | None,
) -> NewJob:  # fmt: skip
    """Check and normalise every photo (no metadata survives), and lay out the job's items.

    Raises:
        UploadRejected: 413 (too many pixels, bombs included), 422 (unreadable).
    """
    long_side = max(settings.plant_id_image_long_side, settings.plantnet_image_long_side)
    flat = [image for plant in plants for image in plant]
    for raw in flat:
        inspect_header(raw, max_pixels=settings.max_image_pixels)
    normalised = await normalise_all(flat, long_sides=(long_side,), max_pixels=settings.max_image_pixels, limiter=limiter, quality=STORED_QUALITY)
    stored = iter(NewImage(sha256=raw.sha256, data=out[long_side]) for raw, out in zip(flat, normalised, strict=True))
    items, organs = [], []
    offset = 0
    for plant in plants:
        item_organs = params.organs[offset : offset + len(plant)]
        offset += len(plant)
        item_params = IdentifyParams(organs=item_organs, latitude=params.latitude, longitude=params.longitude, language=params.language, health=params.health)
        items.append(NewItem(
            id=job_id if not batch else uuid.uuid4(),  # one plant: its history entry has the job's id
            images=tuple(next(stored) for _ in plant), organs=item_organs, image_sha256=combined_sha256([i.sha256 for i in plant]),
            parameters=item_params.stored(),
        ))  # fmt: skip
        organs.append(list(item_organs))
    job_input: dict[str, Any] = {
        "language": params.language, "health": params.health, "latitude": params.latitude, "longitude": params.longitude, "organs": organs,
    }  # fmt: skip
    lane = job_lane(tier, len(plants), priority_tiers=settings.priority_tiers)
    return NewJob(id=job_id, user_id=user_id, lane=lane, batch=batch, items=tuple(items), input=job_input)


async def enqueue(celery: Celery, job: NewJob, *, tier: str | None) -> None:
    """Send the job to its lane (the router decides it from `tier` and `plants`); raises if the broker is unreachable."""
    kwargs = {"job_id": str(job.id), "tier": tier, "plants": len(job.items)}
    await anyio.to_thread.run_sync(lambda: celery.send_task(IDENTIFY_JOB, kwargs=kwargs, task_id=str(job.id)))
