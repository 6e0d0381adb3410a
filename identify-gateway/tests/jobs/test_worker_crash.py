"""A worker killed with SIGKILL in the middle of a job: the job is delivered again and finishes, with
exactly one result row and one unit charged against the user's limit. Real worker processes."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import redis
from sqlalchemy import create_engine, text

# A dead worker's unacknowledged message comes back after 4 s (kombu's visibility timeout).
STACK_OVERRIDES = {"celery_visibility_timeout_s": 5}


@pytest.fixture
def http(gateway: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=30) as client:
        yield client


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}", pytrace=False)
        time.sleep(0.05)


def effects(job_stack: Any, job_id: str, user: uuid.UUID) -> tuple[int, list[bytes]]:
    """(result rows of the job, the user's units in the rate-limit window)."""
    engine = create_engine(job_stack.values["database_url"])
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT count(*) FROM identification_requests WHERE job_id = :id AND result IS NOT NULL"), {"id": job_id}
            ).scalar()
    finally:
        engine.dispose()
    client = redis.Redis.from_url(job_stack.values["redis_url"])
    try:
        units = client.zrange(f"{job_stack.prefix}rl:user:{user}", 0, -1)
    finally:
        client.close()
    return int(rows or 0), units


def submit_slow_job(http: httpx.Client, standin: Any, tokens: Any, kit: SimpleNamespace, seed: int) -> tuple[str, uuid.UUID, dict[str, str]]:
    standin.set("plant_id", delay_s=3.0)
    standin.set("plantnet", delay_s=3.0)
    user = uuid.uuid4()
    headers = tokens.bearer(user)
    response = http.post("/api/v1/plant-identification/identifications/", files=kit.upload(kit.photo(seed)), headers=headers)
    assert response.status_code == 202, response.text
    return response.json()["id"], user, headers


def test_a_pool_process_killed_mid_job_is_replaced_and_the_job_finishes_once(
    http: httpx.Client, job_stack: Any, spawn_worker: Callable[..., Any], standin: Any, tokens: Any, kit: SimpleNamespace, jobs_kit: SimpleNamespace
) -> None:
    worker = spawn_worker(concurrency=1)
    job_id, user, headers = submit_slow_job(http, standin, tokens, kit, 901)
    wait_until(lambda: standin.calls()["plant_id"] >= 1, "the engines to be called")
    [child] = worker.children()

    os.kill(child, signal.SIGKILL)  # the process running the job, mid-call

    done = jobs_kit.wait_for(http, job_id, headers, timeout=60)
    assert done["status"] == "completed" and done["attempts"] == 2
    rows, units = effects(job_stack, job_id, user)
    assert rows == 1
    assert units == [f"job:{job_id}:1".encode()]  # charged once, at submission
    assert standin.calls()["plant_id"] == 2  # the killed call, then the redelivered one
    assert "WorkerLostError" in worker.log() or "SIGKILL" in worker.log()


def test_a_whole_worker_killed_mid_job_loses_nothing_another_worker_finishes_it(
    http: httpx.Client, job_stack: Any, spawn_worker: Callable[..., Any], standin: Any, tokens: Any, kit: SimpleNamespace, jobs_kit: SimpleNamespace
) -> None:
    first = spawn_worker(concurrency=1)
    job_id, user, headers = submit_slow_job(http, standin, tokens, kit, 902)
    wait_until(lambda: standin.calls()["plant_id"] >= 1, "the engines to be called")

    first.kill()  # the main process and its pool, SIGKILL: nothing is acknowledged or rejected
    assert jobs_kit.wait_for(http, job_id, headers, status=("processing",))["status"] == "processing"
    spawn_worker(concurrency=1)

    done = jobs_kit.wait_for(http, job_id, headers, timeout=60)
    assert done["status"] == "completed" and done["attempts"] == 2
    rows, units = effects(job_stack, job_id, user)
    assert rows == 1 and units == [f"job:{job_id}:1".encode()]
