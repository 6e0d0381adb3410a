"""What clients see of a job: the status document (`GET …/identifications/{id}/`, the WebSocket's
terminal events) built from the stored job, its items and its events."""

from __future__ import annotations

from typing import Any

from identify_gateway.jobs.store import JobView

ENGINE_EVENTS = frozenset({"engine_result", "engine_failed"})
_ENGINE_FIELDS = ("status", "latency_ms", "model_version", "suggestions", "source", "cached")


def engine_progress(events: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """{item id: {engine: its latest report}} from the stored events."""
    progress: dict[str, dict[str, dict[str, Any]]] = {}
    for e in events:
        if e.get("event") in ENGINE_EVENTS and e.get("item") and e.get("engine"):
            progress.setdefault(e["item"], {})[e["engine"]] = {k: e[k] for k in _ENGINE_FIELDS if k in e}
    return progress


def _iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def outcome_fields(view: JobView) -> dict[str, Any]:
    """The part of the document that the terminal event repeats: status, error, results."""
    job = view.job
    progress = engine_progress(job.events or [])
    items = [
        {
            "id": str(item.id), "position": item.position, "status": item.status, "engines": progress.get(str(item.id), {}),
            "result": item.result, "error": item.error,
        }  # fmt: skip
        for item in view.items
    ]
    single = items[0]["result"] if items and not job.batch else None
    return {"status": job.status, "error": job.error, "result": single, "items": items}


def job_document(view: JobView, *, status_url: str, websocket_url: str) -> dict[str, Any]:
    job = view.job
    return {
        "id": str(job.id),
        **outcome_fields(view),
        "lane": job.lane,
        "batch": job.batch,
        "attempts": job.attempts,
        "seq": job.event_seq,
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "completed_at": _iso(job.completed_at),
        "status_url": status_url,
        "websocket_url": websocket_url,
    }
