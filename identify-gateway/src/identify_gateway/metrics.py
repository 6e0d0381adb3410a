"""The gateway's own Prometheus series (cache, lock and breaker series live with their primitives
in `resilience/`; HTTP request counts and latency come from `plant_shared.metrics`).
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

IDENTIFICATIONS = Counter(
    "gateway_identifications_total",
    "Identification requests by outcome: ok, degraded, no_match, unavailable, rejected, throttled, unauthenticated.",
    ["outcome"],
)
IDENTIFY_LATENCY = Histogram(
    "gateway_identification_duration_seconds",
    "Time to answer an identification, by how the answer was obtained (hit, computed, joined, waited, fallback, no_lock, unavailable).",
    ["path"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2.5, 5, 10, 20),
)
ENGINE_CALLS = Counter(
    "gateway_engine_calls_total",
    "Engine calls by engine and outcome (ok, no_match, failed, timeout, circuit_open, busy, quota_exhausted, rejected_image).",
    ["engine", "outcome"],
)
ENGINE_LATENCY = Histogram(
    "gateway_engine_latency_seconds",
    "Engine call latency (calls that reached the engine), by engine.",
    ["engine"],
    buckets=(0.05, 0.1, 0.25, 0.4, 0.5, 0.6, 0.75, 1, 1.5, 2, 3, 5, 10, 20),
)
UPLOAD_REJECTIONS = Counter("gateway_upload_rejections_total", "Uploads refused before any engine saw them, by code.", ["code"])
ENRICHMENT = Counter("gateway_enrichment_total", "Enrichment lookups by source (gbif, cms) and outcome.", ["source", "outcome"])
HISTORY_ERRORS = Counter("gateway_history_errors_total", "Identification results that could not be stored in the history.")
