"""The Celery app: lanes and delivery settings, and a real worker process answering `ping`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from devstack.processes import child_setup, stop_popen


@pytest.fixture(scope="module")
def celery_app() -> Any:
    from identify_gateway.worker import app  # needs the GATEWAY_* variables: imported after the check

    return app


@pytest.fixture(scope="module")
def worker(celery_app: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`celery -A identify_gateway.worker worker` as a subprocess on the scratch Redis; stopped afterwards."""
    hostname = f"gateway-test-{uuid.uuid4().hex[:8]}@localhost"
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    argv = [sys.executable, "-m", "celery", "-A", "identify_gateway.worker", "worker",
            "--concurrency", "1", "--hostname", hostname, "--without-mingle", "--without-gossip"]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(argv, env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT, preexec_fn=child_setup())  # noqa: PLW1509 - dies with the test run
    try:
        deadline = time.monotonic() + 30
        while not celery_app.control.ping(destination=[hostname], timeout=0.5):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Celery worker did not come up; its output:\n{log_path.read_text()}", pytrace=False)
        yield hostname, log_path
    finally:
        stop_popen(process, timeout=15)  # SIGTERM: warm shutdown


def test_ping_runs_on_a_real_worker(worker: tuple[str, Path]) -> None:
    from identify_gateway.worker import ping

    assert ping.delay().get(timeout=20) == "pong"


def test_worker_logs_are_json_lines_with_the_service(worker: tuple[str, Path]) -> None:
    from identify_gateway.worker import ping

    ping.delay().get(timeout=20)
    _, log_path = worker
    records = []
    for line in log_path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue  # Celery's start-up banner is plain text
    assert any(r.get("service") == "identify-gateway-worker" and "identify_gateway.ping" in r.get("message", "") for r in records)


def test_every_lane_is_declared_and_ping_takes_the_fast_lane(celery_app: Any) -> None:
    assert {q.name for q in celery_app.conf.task_queues} == {"fast", "default", "slow", "priority"}
    assert celery_app.conf.task_default_queue == "default"
    assert celery_app.amqp.router.route({}, "identify_gateway.ping")["queue"].name == "fast"


def test_tasks_are_acknowledged_late_one_at_a_time(celery_app: Any) -> None:
    assert celery_app.conf.task_acks_late is True
    assert celery_app.conf.task_reject_on_worker_lost is True
    assert celery_app.conf.worker_prefetch_multiplier == 1
