"""The gateway's own Prometheus series (cache, lock and breaker series live with their primitives
in `resilience/`; HTTP request counts and latency come from `plant_shared.metrics`).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

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

# Asynchronous identifications (the API's side: jobs accepted; the worker has no scrape endpoint).
JOBS_SUBMITTED = Counter("gateway_jobs_submitted_total", "Identification jobs accepted (202), by lane.", ["lane"])
JOB_SOCKETS = Gauge("gateway_job_websockets", "Job progress WebSockets open in this process.")
QUEUE_DEPTH = Gauge("gateway_celery_queue_depth", "Messages waiting in each Celery lane (LLEN of its Redis list), read at scrape time.", ["queue"])
QUOTA_USED_RATIO = Gauge("gateway_engine_quota_used_ratio", "Share of an engine's quota used (0..1), when the engine reports its limit.", ["engine"])
QUOTA_ALERT = Gauge(
    "gateway_engine_quota_alert", "Engine quota level: 0 fine, 1 past the warning ratio (GATEWAY_QUOTA_WARNING_RATIO), 2 exhausted (engine skipped).", ["engine"]
)
CSP_REPORTS = Counter("gateway_csp_reports_total", "Content-Security-Policy violation reports received from browsers, by directive.", ["directive"])
