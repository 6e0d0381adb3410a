"""Baseline for bench/gateway_cache_hit.py: an ASGI app that receives the same upload and does one Redis GET.

Not a benchmark itself; gateway_cache_hit.py starts it with uvicorn (`gateway_baseline_app:app`),
the same way devstack starts the gateway (one process, default loop and HTTP implementation).
"""

from __future__ import annotations

import hashlib
import os

import redis.asyncio as redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

_redis = redis.Redis.from_url(os.environ["GATEWAY_REDIS_URL"], max_connections=64)


async def upload(request: Request) -> JSONResponse:
    digest = hashlib.sha256()
    size = 0
    async for chunk in request.stream():  # the whole multipart body, read as the gateway reads it
        digest.update(chunk)
        size += len(chunk)
    cached = await _redis.get("gw:bench:baseline:" + digest.hexdigest())
    return JSONResponse({"success": True, "bytes": size, "cached": cached is not None})


async def livez(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


# /upload when called directly; /bench/baseline/upload through the edge (the bench profile's route).
app = Starlette(routes=[
    Route("/upload", upload, methods=["POST"]),
    Route("/bench/baseline/upload", upload, methods=["POST"]),
    Route("/livez", livez),
])
