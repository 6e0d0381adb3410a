"""Response models: what OpenAPI documents (the identify route answers the merged dict as JSON
directly, skipping re-validation on the hot path; tests check it against these models)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from plant_shared.openapi_errors import VALIDATION_ERROR, ErrorBody  # noqa: F401 - the routes import them from here
from pydantic import BaseModel, Field

EngineStatusName = Literal["ok", "no_match", "failed", "timeout", "circuit_open", "busy", "quota_exhausted", "rejected_image", "disabled"]


class SimilarImage(BaseModel):
    url: str
    url_small: str | None = None
    similarity: float | None = None
    license_name: str | None = None
    license_url: str | None = None
    citation: str | None = Field(default=None, description="Attribution to show with the image.")
    engine: str


class Source(BaseModel):
    engine: str
    name: str = Field(description="The name this engine used (may be a synonym).")
    score: float = Field(description="The engine's own score, 0..1.")
    rank: int = Field(description="Rank in this engine's list, from 1.")


class GbifTaxon(BaseModel):
    usage_key: int
    species_key: int | None = None
    canonical_name: str
    scientific_name: str | None = None
    rank: str | None = None
    status: str | None = None
    match_type: str
    confidence: int | None = None
    family: str | None = None
    genus: str | None = None
    url: str


class SpeciesPageLink(BaseModel):
    title: str | None = None
    url: str | None = None


class Suggestion(BaseModel):
    rank: int
    plant_name: str = Field(description="A common name when one is known, else the scientific name.")
    scientific_name: str
    common_names: list[str]
    confidence: float = Field(description="Combined confidence over the engines that answered, 0..1.")
    family: str | None = None
    genus: str | None = None
    description: str | None = None
    url: str | None = None
    sources: list[Source] = Field(description="Which engine proposed this species, under which name, with which score.")
    similar_images: list[SimilarImage]
    gbif: GbifTaxon | None = None
    species_page: SpeciesPageLink | None = Field(default=None, description="The CMS species page, when there is one.")


class CareInstructions(BaseModel):
    source: Literal["cms", "plant_id", "generic"] = Field(description="`generic`: a placeholder until a species guide exists.")
    species_page_url: str | None = None
    summary: str | None = None
    light: str | None = None
    watering: str | None = None
    soil: str | None = None
    humidity: str | None = None
    temperature: str | None = None
    toxicity: str | None = None


class Disease(BaseModel):
    name: str
    probability: float
    common_names: list[str]
    description: str | None = None
    treatment: dict[str, list[str]] | None = None
    similar_images: list[SimilarImage]


class HealthAssessment(BaseModel):
    available: bool
    is_healthy: bool | None = None
    is_healthy_probability: float | None = None
    diseases: list[Disease]


class EngineReport(BaseModel):
    status: EngineStatusName
    latency_ms: float | None = None
    model_version: str | None = None
    suggestions: int
    source: Literal["live", "standin"] | None = Field(default=None, description="`standin`: the development provider stand-in answered.")


class IdentificationResponse(BaseModel):
    """The seed's body plus request id, cache and degradation flags, per-engine status and provenance."""

    success: bool = Field(description="True when at least one species was suggested.")
    request_id: uuid.UUID = Field(description="The history id of this identification.")
    cached: bool = Field(description="Served from the cache or another request's identical computation.")
    plant_name: str | None
    scientific_name: str | None
    confidence: float
    suggestions: list[Suggestion]
    care_instructions: CareInstructions
    degraded: bool = Field(description="An engine could not answer; the answer comes from the others.")
    is_plant_probability: float | None = None
    health_assessment: HealthAssessment | None = Field(default=None, description="Present when `health` was asked for.")
    engines: dict[str, EngineReport]
    enrichment: dict[str, str] = Field(description="Status of GBIF matching and CMS species pages.")
    notice: str | None = None
    message: str | None = None


class HistoryItem(BaseModel):
    id: uuid.UUID
    created_at: datetime
    status: str
    plant_name: str | None
    scientific_name: str | None
    confidence: float | None
    engines: list[str]
    degraded: bool
    cached: bool
    image_count: int
    job_id: uuid.UUID | None = Field(default=None, description="The asynchronous job this identification belongs to, if any.")


class HistoryDetail(HistoryItem):
    result: dict[str, Any] | None = Field(description="The answer exactly as it was given (`IdentificationResponse`).")
    error: dict[str, str] | None = Field(default=None, description="Why an asynchronous identification failed (`code`, `detail`).")


class HistoryPage(BaseModel):
    count: int
    next: str | None
    previous: str | None
    results: list[HistoryItem]


class Deleted(BaseModel):
    deleted: int


JobStatusName = Literal["queued", "processing", "completed", "failed"]


class JobError(BaseModel):
    code: str = Field(description="`service_unavailable`, `image_not_usable`, `image_invalid`, `worker_lost`, `expired`, `queue_unavailable`...")
    detail: str


class JobEngineProgress(BaseModel):
    status: EngineStatusName
    latency_ms: float | None = None
    model_version: str | None = None
    suggestions: int | None = None
    source: Literal["live", "standin"] | None = None
    cached: bool | None = Field(default=None, description="True: reported from a cached answer, the engine was not called for this job.")


class JobItem(BaseModel):
    id: uuid.UUID = Field(description="The identification's id in the history.")
    position: int = Field(description="The plant's place in the submission (the photo's, for a batch).")
    status: JobStatusName
    engines: dict[str, JobEngineProgress] = Field(description="Each engine's latest outcome for this plant.")
    result: dict[str, Any] | None = Field(description="The answer (`IdentificationResponse`) once completed.")
    error: JobError | None = None


class JobAccepted(BaseModel):
    id: uuid.UUID = Field(description="The job id (for one plant, also its id in the history).")
    status: JobStatusName
    lane: Literal["fast", "default", "slow", "priority"]
    batch: bool
    items: list[JobItem]
    status_url: str = Field(description="`GET` it for the status, per-engine progress and the result.")
    websocket_url: str = Field(description="Live progress events (token required; see docs/jobs.md).")


class JobStatus(JobAccepted):
    result: dict[str, Any] | None = Field(description="The answer of a one-plant job once completed (a batch's are in `items`).")
    error: JobError | None = None
    attempts: int = Field(description="Deliveries that started the job (more than 1 after a retry or a lost worker).")
    seq: int = Field(description="Number of the job's latest progress event.")
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
