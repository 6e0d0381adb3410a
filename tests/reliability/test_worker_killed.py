"""Scenario 4: the Celery worker killed (SIGKILL, main process and pool together) mid-batch, then
started again: every job completes, exactly once (docs/jobs.md, "Deliver").

The messages the dead worker held come back after the broker's visibility timeout (lowered for
this stack in conftest.py); each job resumes and stores each of its plants once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import httpx
import psycopg
from devstack.stack import Stack

from tests.gateway.conftest import Standin, photo
from tests.reliability.loadgen import Report, Sample

JOBS = "/api/v1/plant-identification/identifications/"
SINGLE_JOBS = 4
BATCHES, PLANTS_PER_BATCH = 2, 3
ENGINE_DELAY_S = 1.0  # so that the batch is still running when the worker dies


def done_within_s() -> float:
    """The redelivery of the dead worker's messages (this stack's visibility timeout) plus the work."""
    return float(os.environ["GATEWAY_CELERY_VISIBILITY_TIMEOUT_S"]) + 60


def submit(http: httpx.Client, headers: dict[str, str], *, plants: int) -> str:
    """A job of `plants` new photos (a batch when more than one); its id."""
    files = [("images" if plants > 1 else "image", (f"{n}.jpg", photo(), "image/jpeg")) for n in range(plants)]
    response = http.post(JOBS, files=files, data={"batch": "true"} if plants > 1 else None, headers=headers)
    assert response.status_code == 202, response.text
    return response.json()["id"]


def stored_items(stack: Stack, ids: list[str]) -> dict[tuple[str, int], int]:
    """(job, position) → how many history rows were written for it."""
    with psycopg.connect(stack.postgres.admin_dsn("gateway")) as conn:
        rows = conn.execute("SELECT job_id::text, position, count(*) FROM identification_requests WHERE job_id::text = ANY(%s) "
                            "GROUP BY job_id, position", (ids,)).fetchall()
    return {(job, position): count for job, position, count in rows}


def wait_until_over(http: httpx.Client, headers: dict[str, str], ids: list[str], *, within: float) -> dict[str, dict[str, Any]]:
    deadline, states = time.monotonic() + within, {}
    while time.monotonic() < deadline:
        states = {job_id: http.get(f"{JOBS}{job_id}/", headers=headers).json() for job_id in ids}
        if all(state["status"] in ("completed", "failed") for state in states.values()):
            break
        time.sleep(0.5)
    return states


def test_a_worker_killed_mid_batch_completes_every_job_exactly_once(
    stack: Stack, edge_url: str, member_account: Callable[[], str], standin: Standin, print_report: Callable[[Report], None],
) -> None:
    headers = {"Authorization": f"Bearer {member_account()}"}
    worker = stack.process("gateway-worker")
    standin.set("plant_id", delay_s=ENGINE_DELAY_S)
    standin.set("plantnet", delay_s=ENGINE_DELAY_S)
    with httpx.Client(base_url=edge_url, timeout=30) as http:
        started = time.monotonic()
        ids = [submit(http, headers, plants=plants) for plants in [PLANTS_PER_BATCH] * BATCHES + [1] * SINGLE_JOBS]
        while http.get(f"{JOBS}{ids[0]}/", headers=headers).json()["status"] == "queued":
            time.sleep(0.1)
        time.sleep(ENGINE_DELAY_S / 2)  # mid-plant
        killed_at = time.monotonic()
        worker.kill()  # the whole worker: main process and pool children
        restarted_at = time.monotonic()
        worker.restart()
        states = wait_until_over(http, headers, ids, within=done_within_s())
        done_at = time.monotonic()
    stored = stored_items(stack, ids)
    plants = {job_id: PLANTS_PER_BATCH if n < BATCHES else 1 for n, job_id in enumerate(ids)}
    expected = {(job_id, position) for job_id, count in plants.items() for position in range(count)}
    missing = expected - set(stored)
    duplicated = {key: count for key, count in stored.items() if count > 1}
    statuses = [state.get("status") for state in states.values()]
    report = Report(
        scenario=f"Celery worker killed (SIGKILL) mid-batch: {BATCHES} batches of {PLANTS_PER_BATCH} + {SINGLE_JOBS} single jobs",
        samples=[Sample("job", started, done_at - started, status=200, ok=status == "completed") for status in statuses],
        duration_s=done_at - started, data_lost=len(missing), recovery_s=done_at - restarted_at, timeout_s=done_within_s(),
        notes=[f"jobs completed: {statuses.count('completed')}/{len(ids)}; plants stored: {sum(stored.values())} "
               f"(expected {len(expected)}, duplicated {len(duplicated)}); deliveries per job: "
               f"{sorted(state.get('attempts') for state in states.values())}; killed {killed_at - started:.1f} s after the first submission"],
    )
    print_report(report)

    assert statuses == ["completed"] * len(ids), states
    assert not missing, f"plants never stored: {sorted(missing)}"
    assert not duplicated, f"plants stored more than once: {duplicated}"
