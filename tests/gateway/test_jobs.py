"""Asynchronous identification through the real edge: 202 and a job, progress over a WebSocket routed
by Traefik, the stack's real Celery worker (killed mid-job once), the gateway's PostgreSQL and Redis."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
import redis
from sqlalchemy import create_engine, text
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

JOBS = "/api/v1/plant-identification/identifications/"
HISTORY = "/api/v1/plant-identification/history/"


def ws_url(edge_url: str, path: str) -> str:
    return "ws" + edge_url[4:] + path


def events_until_closed(socket: ClientConnection, timeout: float = 60) -> list[dict[str, Any]]:
    received: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            received.append(json.loads(socket.recv(timeout=max(0.1, deadline - time.monotonic()))))
    except ConnectionClosed:
        return received
    pytest.fail(f"the socket stayed open after {timeout} s; received {received}")


def refusal(url: str, **kwargs: Any) -> int | None:
    with connect(url, proxy=None, **kwargs) as socket:
        with pytest.raises(ConnectionClosed):
            socket.recv(timeout=10)
        return socket.close_code


def wait_for(edge: httpx.Client, job_id: str, headers: dict[str, str], *, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body = edge.get(f"{JOBS}{job_id}/", headers=headers).json()
        if body["status"] in ("completed", "failed"):
            return body
        if time.monotonic() > deadline:
            pytest.fail(f"job {job_id} still {body['status']}", pytrace=False)
        time.sleep(0.2)


def test_a_job_through_the_edge_streams_its_progress_and_lands_in_the_history(
    edge: httpx.Client, edge_url: str, standin: Any, fresh_token: str, new_photo: Callable[..., bytes], files: Callable[..., Any]
) -> None:
    token = fresh_token
    member = {"Authorization": f"Bearer {token}"}
    standin.set("plant_id", delay_s=0.5)

    response = edge.post(JOBS, files=files(new_photo()), headers=member)

    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["status_url"].startswith(edge_url) and accepted["websocket_url"] == ws_url(edge_url, f"/ws/v1/identifications/{accepted['id']}")
    assert response.headers["X-Request-ID"]
    with connect(accepted["websocket_url"], subprotocols=["bearer", token], proxy=None) as socket:  # type: ignore[list-item]
        events = events_until_closed(socket)
        code = socket.close_code
    names = [e["event"] for e in events]
    assert names[:2] == ["queued", "processing"] and names[-1] == "completed" and code == 1000
    assert sorted(n for n in names if n.startswith("engine_")) == ["engine_result", "engine_result"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    status = edge.get(accepted["status_url"].removeprefix(edge_url), headers=member).json()
    assert status["status"] == "completed" and status["result"] == events[-1]["result"]
    assert edge.get(f"{HISTORY}{accepted['id']}/", headers=member).json()["job_id"] == accepted["id"]


def test_the_job_socket_through_the_edge_refuses_strangers(
    edge: httpx.Client, edge_url: str, standin: Any, fresh_token: str, login: Callable[[str], str], new_photo: Callable[..., bytes],
    files: Callable[..., Any],
) -> None:  # fmt: skip
    member = {"Authorization": f"Bearer {fresh_token}"}
    job_id = edge.post(JOBS, files=files(new_photo()), headers=member).json()["id"]
    url = ws_url(edge_url, f"/ws/v1/identifications/{job_id}")

    assert refusal(url) == 4401
    assert refusal(f"{url}?access_token=not.a.token") == 4401
    assert refusal(f"{url}?access_token={login('editor')}") == 4404
    assert refusal(ws_url(edge_url, f"/ws/v1/identifications/{uuid.uuid4()}"), subprotocols=["bearer", fresh_token]) == 4404
    assert edge.get(f"{JOBS}{job_id}/", headers={"Authorization": f"Bearer {login('editor')}"}).status_code == 404
    wait_for(edge, job_id, member)


def test_a_batch_through_the_edge_identifies_each_plant(edge: httpx.Client, standin: Any, fresh_token: str, new_photo: Callable[..., bytes]) -> None:
    member = {"Authorization": f"Bearer {fresh_token}"}
    photos = [("images", (f"{n}.jpg", new_photo(), "image/jpeg")) for n in range(3)]

    response = edge.post(JOBS, files=photos, data={"batch": "true"}, headers=member)

    assert response.status_code == 202 and response.json()["lane"] == "slow"
    done = wait_for(edge, response.json()["id"], member)
    assert [i["status"] for i in done["items"]] == ["completed"] * 3


def test_a_worker_process_killed_mid_job_through_the_stack_finishes_it_once(
    edge: httpx.Client, stack_env: Callable[[str], str], standin: Any, fresh_token: str, new_photo: Callable[..., bytes],
    files: Callable[..., Any], gateway_redis: redis.Redis,
) -> None:  # fmt: skip
    from identify_gateway.config import Settings
    from identify_gateway.jobs.app import create_celery

    token = fresh_token
    user = jwt.decode(token, options={"verify_signature": False})["sub"]
    member = {"Authorization": f"Bearer {token}"}
    standin.set("plant_id", delay_s=3.0)
    standin.set("plantnet", delay_s=3.0)
    celery = create_celery(Settings())  # type: ignore[call-arg]  # the stack's GATEWAY_* variables
    try:
        job_id = edge.post(JOBS, files=files(new_photo()), headers=member).json()["id"]
        pid = None
        deadline = time.monotonic() + 30
        while pid is None and time.monotonic() < deadline:
            for tasks in (celery.control.inspect(timeout=1).active() or {}).values():
                pid = next((t["worker_pid"] for t in tasks if t["id"] == job_id), pid)
        assert pid, "the job never showed up as active on the stack's worker"
        while standin.calls()["plant_id"] < 1:
            time.sleep(0.05)

        os.kill(pid, signal.SIGKILL)  # the pool process running the job

        done = wait_for(edge, job_id, member)
    finally:
        celery.close()
    assert done["status"] == "completed" and done["attempts"] == 2
    engine = create_engine(stack_env("GATEWAY_DATABASE_URL"))
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT count(*) FROM identification_requests WHERE job_id = :id"), {"id": job_id}).scalar()
    finally:
        engine.dispose()
    units = [m for m in gateway_redis.zrange(f"gw:rl:user:{user}", 0, -1) if m.startswith(f"job:{job_id}".encode())]
    assert rows == 1 and units == [f"job:{job_id}:1".encode()]


def test_the_stack_runs_a_beat_next_to_the_worker(stack_env: Callable[[str], str]) -> None:
    from pathlib import Path

    log = Path(stack_env("PLATFORM_LOG_DIR")) / "gateway-beat.log"
    deadline = time.monotonic() + 20
    while "beat: Starting" not in (log.read_text(errors="replace") if log.exists() else ""):
        if time.monotonic() > deadline:
            pytest.fail(f"no running beat in {log}", pytrace=False)
        time.sleep(0.5)
