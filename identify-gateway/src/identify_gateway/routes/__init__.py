"""HTTP routes. Every router carries the full public prefix itself, not through `include_router(prefix=…)`:
with FastAPI's lazily included routers, `scope["route"].path` (the metrics label) lacks an include prefix.
"""

API_PREFIX = "/api/v1/plant-identification"
