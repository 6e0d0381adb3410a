"""Asynchronous identifications: Celery lanes and configuration, the job store, progress events,
the runner the worker calls, and the scheduled upkeep (docs/jobs.md)."""
