"""A real `celery beat` process scheduling the quota check onto a real worker, and the admins' live
status socket on a real server."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from devstack.processes import stop_popen
from redis.asyncio import Redis
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from identify_gateway.resilience import QuotaTracker

STACK_OVERRIDES = {"quota_check_interval_s": 1.0, "retention_interval_s": 2.0}


@pytest.fixture
def beat(job_stack: Any, worker: Any, tmp_path: Path) -> Iterator[Path]:
    log_path = tmp_path / "beat.log"
    argv = [sys.executable, "-m", "celery", "-A", "identify_gateway.worker", "beat", "--loglevel", "INFO", "--schedule", str(tmp_path / "schedule")]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(argv, env=job_stack.environment(), stdout=log, stderr=subprocess.STDOUT)
    try:
        yield log_path
    finally:
        stop_popen(process)


def test_beat_runs_the_quota_check_on_the_worker_which_warns_past_80_percent(job_stack: Any, worker: Any, standin: Any, beat: Path) -> None:
    async def report() -> None:
        redis = Redis.from_url(job_stack.values["redis_url"])
        try:
            await QuotaTracker(redis, prefix=f"{job_stack.prefix}quota:").record("plantnet", remaining=100, limit=1000)
        finally:
            await redis.aclose()

    asyncio.run(report())

    for line in ("[QUOTA] plantnet has used 90% of its quota (100 of 1000 left)", '"message": "retention: '):
        deadline = time.monotonic() + 30
        while line not in worker.log():
            if time.monotonic() > deadline:
                pytest.fail(f"no {line!r} in the worker's log:\n{worker.log()[-3000:]}\nbeat:\n{beat.read_text()[-2000:]}", pytrace=False)
            time.sleep(0.2)


def test_the_status_socket_streams_snapshots_to_admins_only(gateway: Any, tokens: Any) -> None:
    url = f"{gateway.ws_url}/ws/v1/status"

    with connect(url, subprotocols=["bearer", tokens.mint(uuid.uuid4(), roles=["admin"])], proxy=None) as socket:  # type: ignore[list-item]
        first = json.loads(socket.recv(timeout=10))
        second = json.loads(socket.recv(timeout=10))
    assert first["event"] == "status" and set(first["engines"]) == {"plant_id", "plantnet", "gbif", "cms"}
    assert set(first["queues"]) == {"fast", "default", "slow", "priority"} and second["event"] == "status"

    for token, code in ((tokens.mint(uuid.uuid4()), 4403), (None, 4401)):
        with connect(url if token is None else f"{url}?access_token={token}", proxy=None) as socket:
            with pytest.raises(ConnectionClosed):
                socket.recv(timeout=10)
            assert socket.close_code == code
