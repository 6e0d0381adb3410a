"""Fixtures for asynchronous identifications: a real gateway server (uvicorn, in a thread: HTTP and
WebSockets on a real port) and real Celery worker processes, all on the scratch PostgreSQL and Redis.

Isolation: each test module gets a Redis key prefix of its own, used for the gateway's keys, the
pub/sub channels and (as kombu's `global_keyprefix`) the broker's queues, so a module's worker
never takes another module's jobs. Breaker, quota and limit state is cleared after each test.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import redis
import uvicorn
from devstack.processes import child_setup, stop_popen

STANDIN_PLANT_ID_KEY = "test-standin-plant-id-key"
STANDIN_PLANTNET_KEY = "test-standin-plantnet-key"
JOBS = "/api/v1/plant-identification/identifications/"
HISTORY = "/api/v1/plant-identification/history/"
TERMINAL = ("completed", "failed")


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Stack:
    """One test module's gateway settings (as values, as a Settings object, as worker environment)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values
        self.prefix: str = values["redis_key_prefix"]

    def settings(self, **overrides: Any) -> Any:
        from identify_gateway.config import Settings

        return Settings(**{**self.values, **overrides})

    def environment(self, **overrides: Any) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        for name, value in {**self.values, **overrides}.items():
            if value is None:
                value = ""
            elif isinstance(value, bool):
                value = "true" if value else "false"
            elif isinstance(value, list | dict):
                value = json.dumps(value)
            env[f"GATEWAY_{name.upper()}"] = str(value)
        return env


def _stack_values(migrated_url: str, standin_url: str, jwks_url: str, prefix: str) -> dict[str, Any]:
    env = {name: os.environ[name] for name in ("GATEWAY_REDIS_URL", "GATEWAY_CELERY_BROKER_URL", "GATEWAY_DENYLIST_REDIS_URL")}
    return {
        "environment": "test",
        "database_url": migrated_url,
        "redis_url": env["GATEWAY_REDIS_URL"],
        "celery_broker_url": env["GATEWAY_CELERY_BROKER_URL"],
        "denylist_redis_url": env["GATEWAY_DENYLIST_REDIS_URL"],
        "redis_key_prefix": prefix,
        "celery_key_prefix": prefix,
        "gbif_enabled": False,
        "cms_internal_url": None,
        "jwks_url": jwks_url,
        "plant_id_base_url": f"{standin_url}/api/v3",
        "plant_id_api_key": STANDIN_PLANT_ID_KEY,
        "plantnet_base_url": f"{standin_url}/v2",
        "plantnet_api_key": STANDIN_PLANTNET_KEY,
        "anonymous_allowed": False,
        # Quick retries and a short single-flight lease (a killed worker's lock expires soon).
        "job_retry_base_s": 0.2,
        "job_retry_max_s": 1.0,
        "lock_lease_ms": 2000,
        "ws_resync_s": 2.0,
        "status_interval_s": 0.3,
        "breaker_reset_timeout_s": 30.0,
    }


@pytest.fixture(scope="module")
def module_prefix() -> Iterator[str]:
    prefix = f"test:gw:{uuid.uuid4().hex[:12]}:"
    yield prefix
    for url in (os.environ["GATEWAY_REDIS_URL"], os.environ["GATEWAY_CELERY_BROKER_URL"]):
        client = redis.Redis.from_url(url)
        try:
            keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
            if keys:
                client.delete(*keys)
        finally:
            client.close()


@pytest.fixture(scope="module")
def job_stack(migrated_url: str, standin_process: Any, tokens: Any, module_prefix: str, request: pytest.FixtureRequest) -> Stack:
    """The module's settings; a module may override values with a module-level `STACK_OVERRIDES` dict."""
    values = _stack_values(migrated_url, standin_process.url, tokens.url, module_prefix)
    values.update(getattr(request.module, "STACK_OVERRIDES", {}))
    return Stack(values)


@pytest.fixture(autouse=True)
def _clear_shared_state(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "job_stack" not in request.fixturenames:
        return
    prefix = request.getfixturevalue("job_stack").prefix
    client = redis.Redis.from_url(os.environ["GATEWAY_REDIS_URL"])
    try:
        for pattern in ("cb:*", "quota:*", "rl:*", "cc:*"):
            keys = list(client.scan_iter(match=f"{prefix}{pattern}", count=1000))
            if keys:
                client.delete(*keys)
    finally:
        client.close()


# --- a real gateway server ----------------------------------------------------------------------


class LiveGateway:
    def __init__(self, app: Any, port: int) -> None:
        self.app = app
        self.url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}"

    @property
    def resources(self) -> Any:
        return self.app.resources


def serve_in_thread(app: Any) -> Iterator[LiveGateway]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", ws="auto"))
    thread = threading.Thread(target=server.run, name="live-gateway", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the gateway server did not start", pytrace=False)
        time.sleep(0.05)
    try:
        yield LiveGateway(app, port)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture(scope="module")
def gateway(job_stack: Stack) -> Iterator[LiveGateway]:
    """The gateway on a real port, for the module."""
    from identify_gateway.main import create_app

    yield from serve_in_thread(create_app(job_stack.settings()))


# --- real worker processes ----------------------------------------------------------------------


class Worker:
    def __init__(self, process: subprocess.Popen[bytes], hostname: str, log_path: Path) -> None:
        self.process = process
        self.hostname = hostname
        self.log_path = log_path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def children(self) -> list[int]:
        """The pool's child processes (where prefork runs the tasks)."""
        pid = self.process.pid
        found: list[int] = []
        for task in Path(f"/proc/{pid}/task").glob("*"):
            try:
                found += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
        return found

    def stop(self) -> None:
        stop_popen(self.process, timeout=20, group=True)  # SIGTERM: warm shutdown

    def kill(self) -> None:
        """SIGKILL the whole worker: the main process and its pool children, without any chance to clean up."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


def start_worker(stack: Stack, log_dir: Path, *, concurrency: int = 2, queues: str = "fast,default,slow,priority",
                 extra: tuple[str, ...] = (), **overrides: Any) -> Worker:  # fmt: skip
    from identify_gateway.jobs.app import create_celery

    hostname = f"gateway-test-{uuid.uuid4().hex[:8]}@localhost"
    log_path = log_dir / f"{hostname.split('@')[0]}.log"
    argv = [sys.executable, "-m", "celery", "-A", "identify_gateway.worker", "worker", "--loglevel", "INFO", "-Q", queues,
            "--concurrency", str(concurrency), "--hostname", hostname, "--without-mingle", "--without-gossip", *extra]  # fmt: skip
    with open(log_path, "wb") as log:
        # Its own session (killed as a group) that dies with this test run, even a killed one.
        process = subprocess.Popen(argv, env=stack.environment(**overrides), stdout=log, stderr=subprocess.STDOUT, preexec_fn=child_setup())  # noqa: PLW1509
    worker = Worker(process, hostname, log_path)
    control = create_celery(stack.settings(**overrides), name="test-control")
    try:
        deadline = time.monotonic() + 45
        while not control.control.ping(destination=[hostname], timeout=0.5):
            if process.poll() is not None or time.monotonic() > deadline:
                worker.stop()
                pytest.fail(f"the Celery worker did not come up; its output:\n{worker.log()}", pytrace=False)
    finally:
        control.close()
    return worker


@pytest.fixture(scope="module")
def worker(job_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    """A real worker on every lane for the module."""
    started = start_worker(job_stack, tmp_path_factory.mktemp("worker"))
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def spawn_worker(job_stack: Stack, tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    """`spawn_worker(**setting_overrides)`: a worker of this test's own, stopped afterwards."""
    started: list[Worker] = []

    def spawn(**kwargs: Any) -> Worker:
        w = start_worker(job_stack, tmp_path, **kwargs)
        started.append(w)
        return w

    yield spawn
    for w in started:
        w.stop()


# --- helpers ------------------------------------------------------------------------------------


def wait_for(client: httpx.Client, job_id: str, headers: dict[str, str], *, status: tuple[str, ...] = TERMINAL, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(f"{JOBS}{job_id}/", headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        if body["status"] in status:
            return body
        if time.monotonic() > deadline:
            pytest.fail(f"job {job_id} still {body['status']} after {timeout} s: {body}", pytrace=False)
        time.sleep(0.1)


@pytest.fixture
def jobs_kit() -> SimpleNamespace:
    return SimpleNamespace(JOBS=JOBS, HISTORY=HISTORY, wait_for=wait_for)
