"""What the job benchmarks share: fresh accounts, photos nobody sent before, the stand-in's control,
the stack's Celery workers. Everything talks to the stack devstack started (PLATFORM_* variables)."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import uuid
from typing import Any

import httpx
from PIL import Image

JOBS = "/api/v1/plant-identification/identifications/"


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise SystemExit(f"{name} is not set: run this inside a stack, e.g. `python -m devstack run --profile test -- python {sys.argv[0]}`")
    return value


def photo(seed: str, size: tuple[int, int] = (640, 480)) -> bytes:
    """A busy JPEG of its own (a cache miss), ~60 KB."""
    width, height = size
    noise = hashlib.shake_256(seed.encode()).digest((width // 4) * (height // 4) * 3)
    image = Image.frombytes("RGB", (width // 4, height // 4), noise).resize(size, Image.Resampling.NEAREST)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def fresh_tokens(count: int, *, tier: str = "free") -> list[str]:
    """Access tokens of `count` new accounts (each has its own hourly limit), signed in through the edge."""
    run = uuid.uuid4().hex[:8]
    tokens = []
    for n in range(count):
        email, password = f"bench-{run}-{n}@bench.plant.community", f"Bench-{uuid.uuid4().hex}"
        subprocess.run(
            [sys.executable, "-m", "auth_service.cli", "create-user", "--email", email, "--password-env", "BENCH_PASSWORD", "--role", "member", "--tier", tier],
            env={**os.environ, "BENCH_PASSWORD": password}, check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        response = httpx.post(f"{env('PLATFORM_EDGE_URL')}/api/v1/auth/login", json={"email": email, "password": password}, timeout=15)
        response.raise_for_status()
        tokens.append(response.json()["access_token"])
    return tokens


def standin(**engines: dict[str, Any]) -> None:
    """Reset the stand-in, then set each engine's behaviour, e.g. `standin(plant_id={"delay_s": 0.5})`."""
    with httpx.Client(base_url=env("PLATFORM_STANDIN_URL"), timeout=5) as control:
        control.post("/_standin/reset").raise_for_status()
        for engine, fields in engines.items():
            control.post("/_standin/control", json={"engine": engine, "mode": "ok", **fields}).raise_for_status()


def worker_processes() -> int:
    """OS processes running jobs, over every worker consuming the stack's lanes (`celery inspect stats`):
    a prefork worker's pool processes, 1 for a threads-pool worker."""
    from identify_gateway.config import Settings
    from identify_gateway.jobs.app import create_celery

    app = create_celery(Settings())  # type: ignore[call-arg]  # the stack's GATEWAY_* variables
    try:
        stats = app.control.inspect(timeout=2).stats() or {}
    finally:
        app.close()
    return sum(len(s.get("pool", {}).get("processes") or [1]) for s in stats.values())


def start_threads_worker(threads: int) -> subprocess.Popen[bytes]:
    """An extra worker on every lane with the threads pool (one process, `threads` jobs at once)."""
    argv = [sys.executable, "-m", "celery", "-A", "identify_gateway.worker", "worker", "--loglevel", "WARNING", "-Q", "fast,default,slow,priority",
            "--pool", "threads", "--concurrency", str(threads), "--hostname", f"bench-threads-{uuid.uuid4().hex[:6]}@%h"]  # fmt: skip
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]
