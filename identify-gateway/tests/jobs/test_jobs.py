"""`POST …/identifications/` → 202, a real Celery worker runs the job through the same pipeline, and
`GET …/identifications/{id}/` and `/ws/v1/identifications/{id}` report it; owner only."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import redis
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

AUTH_REQUIRED = "Authentication required for plant identification. Please log in or create an account to identify plants."
SERVICE_UNAVAILABLE = "Plant.id service is temporarily unavailable. Please try again in a few moments."
STACK_OVERRIDES = {"job_max_retries": 2}


@pytest.fixture
def http(gateway: Any, worker: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=30) as client:
        yield client


def events_of(socket: ClientConnection, timeout: float = 30) -> list[dict[str, Any]]:
    """Every event until the server closes the socket."""
    received = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            received.append(json.loads(socket.recv(timeout=deadline - time.monotonic())))
    except ConnectionClosed:
        return received
    pytest.fail(f"the socket stayed open; received {received}")


def ws(gateway: Any, job_id: str, token: str | None, *, via: str = "subprotocol") -> ClientConnection:
    url = f"{gateway.ws_url}/ws/v1/identifications/{job_id}"
    if token is not None and via == "query":
        return connect(f"{url}?access_token={token}", proxy=None)
    if token is not None:
        return connect(url, subprotocols=["bearer", token], proxy=None)  # type: ignore[list-item]
    return connect(url, proxy=None)


def close_code(socket: ClientConnection) -> int | None:
    with pytest.raises(ConnectionClosed):
        socket.recv(timeout=10)
    return socket.close_code


def test_a_job_is_accepted_at_once_and_completes_into_the_history(
    http: httpx.Client, standin: Any, tokens: Any, kit: SimpleNamespace, jobs_kit: SimpleNamespace
) -> None:
    me = tokens.bearer()
    standin.set("plant_id", delay_s=0.5)

    started = time.perf_counter()
    response = http.post(jobs_kit.JOBS, files=kit.upload(kit.photo(501)), headers=me)
    accepted_in = time.perf_counter() - started

    assert response.status_code == 202, response.text
    accepted = response.json()
    job_id = accepted["id"]
    assert accepted_in < 0.5  # the engines take 0.5 s: the answer did not wait for them
    assert accepted["status"] == "queued" and accepted["lane"] == "default" and accepted["batch"] is False
    assert accepted["status_url"] == f"{http.base_url}{jobs_kit.JOBS}{job_id}/" == response.headers["Location"]
    assert accepted["websocket_url"].startswith("ws://") and accepted["websocket_url"].endswith(f"/ws/v1/identifications/{job_id}")
    assert response.headers["RateLimit-Remaining"] == "99"

    done = jobs_kit.wait_for(http, job_id, me)

    assert done["status"] == "completed" and done["attempts"] == 1 and done["error"] is None
    result = done["result"]
    assert result["success"] is True and result["request_id"] == job_id and result["scientific_name"]
    assert {e: r["status"] for e, r in done["items"][0]["engines"].items()} == {"plant_id": "ok", "plantnet": "ok"}
    item = http.get(f"{jobs_kit.HISTORY}{job_id}/", headers=me).json()
    assert item["status"] == "completed" and item["job_id"] == job_id and item["result"] == result
    assert http.get(jobs_kit.HISTORY, headers=me).json()["count"] == 1


def test_a_batch_identifies_each_plant_in_the_slow_lane_and_charges_one_unit_per_plant(
    http: httpx.Client, standin: Any, tokens: Any, kit: SimpleNamespace, jobs_kit: SimpleNamespace
) -> None:
    me = tokens.bearer()
    photos = [kit.photo(510 + n) for n in range(3)]

    response = http.post(jobs_kit.JOBS, files=kit.upload(*photos), data={"batch": "true", "organs": "leaf,flower,auto"}, headers=me)

    assert response.status_code == 202, response.text
    assert response.json()["lane"] == "slow" and response.headers["RateLimit-Remaining"] == "97"
    done = jobs_kit.wait_for(http, response.json()["id"], me)
    assert done["status"] == "completed" and done["result"] is None
    assert [i["status"] for i in done["items"]] == ["completed"] * 3 and [i["position"] for i in done["items"]] == [0, 1, 2]
    history = http.get(jobs_kit.HISTORY, headers=me).json()["results"]
    assert sorted(h["id"] for h in history) == sorted(i["id"] for i in done["items"])
    assert {h["job_id"] for h in history} == {done["id"]}


def test_paying_tiers_take_the_priority_lane(http: httpx.Client, standin: Any, tokens: Any, kit: SimpleNamespace, jobs_kit: SimpleNamespace) -> None:
    me = tokens.bearer(tier="pro")

    response = http.post(jobs_kit.JOBS, files=kit.upload(kit.photo(520)), headers=me)

    assert response.status_code == 202 and response.json()["lane"] == "priority"
    assert jobs_kit.wait_for(http, response.json()["id"], me)["status"] == "completed"


def test_only_the_owner_sees_a_job_and_submitting_needs_a_token(
    http: httpx.Client, standin: Any, tokens: Any, kit: SimpleNamespace, jobs_kit: SimpleNamespace
) -> None:
    me, someone = tokens.bearer(), tokens.bearer()
    job_id = http.post(jobs_kit.JOBS, files=kit.upload(kit.photo(530)), headers=me).json()["id"]

    assert http.get(f"{jobs_kit.JOBS}{job_id}/", headers=someone).status_code == 404
    assert http.get(f"{jobs_kit.JOBS}{uuid.uuid4()}/", headers=me).status_code == 404
    assert http.get(f"{jobs_kit.JOBS}{job_id}/").status_code == 401
    anonymous = http.post(jobs_kit.JOBS, files=kit.upload(kit.photo(531)))
    assert anonymous.status_code == 401 and anonymous.json() == {"detail": AUTH_REQUIRED, "code": "not_authenticated"}
    service = http.post(jobs_kit.JOBS, files=kit.upload(kit.photo(531)), headers={"Authorization": f"Bearer {tokens.service_token()}"})
    assert service.status_code == 403
    jobs_kit.wait_for(http, job_id, me)


@pytest.mark.parametrize(
    ("data", "count", "status", "code"),
    [({}, 6, 422, "too_many_images"), ({"batch": "true"}, 11, 422, "too_many_images"), ({"batch": "maybe"}, 1, 422, "validation_error")],
)
def test_bad_submissions_are_refused_before_anything_is_queued(
    http: httpx.Client, tokens: Any, kit: SimpleNamespace, jobs_kit: SimpleNamespace, data: dict[str, str], count: int, status: int, code: str
) -> None:
    response = http.post(jobs_kit.JOBS, files=kit.upload(*[kit.photo(540 + n, size=(64, 48)) for n in range(count)]), data=data, headers=tokens.bearer())

    assert response.status_code == status and response.json()["code"] == code


def test_unreadable_photos_are_refused_synchronously(http: httpx.Client, tokens: Any, kit: SimpleNamespace, jobs_kit: SimpleNamespace) -> None:
    gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
    truncated = kit.photo(550)[:3000]

    assert http.post(jobs_kit.JOBS, files=kit.upload(gif), headers=tokens.bearer()).status_code == 415
    assert http.post(jobs_kit.JOBS, files=kit.upload(truncated), headers=tokens.bearer()).json()["code"] == "image_invalid"


def test_the_websocket_streams_every_event_in_order_up_to_the_result(
    http: httpx.Client, gateway: Any, standin: Any, tokens: Any, kit: SimpleNamespace, jobs_kit: SimpleNamespace
) -> None:
    user = uuid.uuid4()
    token = tokens.mint(user)
    standin.set("plant_id", delay_s=1.0)
    standin.set("plantnet", delay_s=0.5)

    job_id = http.post(jobs_kit.JOBS, files=kit.upload(kit.photo(560)), headers={"Authorization": f"Bearer {token}"}).json()["id"]
    with ws(gateway, job_id, token) as socket:
        assert socket.subprotocol == "bearer"
        events = events_of(socket)
        code = socket.close_code

    names = [e["event"] for e in events]
    assert names[:2] == ["queued", "processing"] and names[-1] == "completed"
    assert sorted(names[2:-1]) == ["engine_result", "engine_result"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert {e["engine"] for e in events if e["event"] == "engine_result"} == {"plant_id", "plantnet"}
    assert events[2]["engine"] == "plantnet"  # the faster engine is reported first, as it answers
    final = events[-1]
    assert final["status"] == "completed" and code == 1000
    assert final["result"] == jobs_kit.wait_for(http, job_id, {"Authorization": f"Bearer {token}"})["result"]


def test_a_late_listener_first_receives_the_current_state(
    http: httpx.Client, gateway: Any, standin: Any, tokens: Any, kit: SimpleNamespace, jobs_kit: SimpleNamespace
) -> None:
    token = tokens.mint(uuid.uuid4())
    headers = {"Authorization": f"Bearer {token}"}
    job_id = http.post(jobs_kit.JOBS, files=kit.upload(kit.photo(570)), headers=headers).json()["id"]
    done = jobs_kit.wait_for(http, job_id, headers)

    with ws(gateway, job_id, token, via="query") as socket:
        events = events_of(socket)

    assert [e["event"] for e in events][:2] == ["queued", "processing"] and events[-1]["event"] == "completed"
    assert events[-1]["result"] == done["result"] and events[-1]["items"][0]["engines"] == done["items"][0]["engines"]


def test_the_websocket_refuses_without_a_token_4401_and_another_members_or_unknown_job_4404(
    http: httpx.Client, gateway: Any, standin: Any, tokens: Any, kit: SimpleNamespace, jobs_kit: SimpleNamespace
) -> None:
    owner = tokens.mint(uuid.uuid4())
    job_id = http.post(jobs_kit.JOBS, files=kit.upload(kit.photo(580)), headers={"Authorization": f"Bearer {owner}"}).json()["id"]

    with ws(gateway, job_id, None) as socket:
        assert close_code(socket) == 4401
    with ws(gateway, job_id, "not.a.token") as socket:
        assert close_code(socket) == 4401
    with ws(gateway, job_id, tokens.mint(uuid.uuid4())) as socket:
        assert close_code(socket) == 4404
    with ws(gateway, str(uuid.uuid4()), owner) as socket:
        assert close_code(socket) == 4404
    with ws(gateway, "not-a-uuid", owner) as socket:
        assert close_code(socket) == 4404
    jobs_kit.wait_for(http, job_id, {"Authorization": f"Bearer {owner}"})


def test_a_job_shares_the_cache_with_the_sync_endpoint(
    http: httpx.Client, gateway: Any, standin: Any, tokens: Any, kit: SimpleNamespace, jobs_kit: SimpleNamespace
) -> None:
    token = tokens.mint(uuid.uuid4())
    headers = {"Authorization": f"Bearer {token}"}
    image = kit.photo(590)
    synchronous = http.post(kit.IDENTIFY, files=kit.upload(image), headers=headers).json()
    calls = standin.calls()

    job_id = http.post(jobs_kit.JOBS, files=kit.upload(image), headers=headers).json()["id"]
    with ws(gateway, job_id, token) as socket:
        events = events_of(socket)

    assert standin.calls() == calls  # no engine was called for the job
    result = events[-1]["result"]
    assert result["cached"] is True and result["scientific_name"] == synchronous["scientific_name"]
    engine_events = [e for e in events if e["event"] == "engine_result"]
    assert {e["engine"] for e in engine_events} == {"plant_id", "plantnet"} and all(e["cached"] for e in engine_events)


def test_transient_engine_faults_are_retried_with_backoff_then_the_job_completes(
    http: httpx.Client, gateway: Any, standin: Any, tokens: Any, kit: SimpleNamespace, jobs_kit: SimpleNamespace
) -> None:
    token = tokens.mint(uuid.uuid4())
    standin.set("plant_id", fail_next=1)
    standin.set("plantnet", fail_next=1)

    job_id = http.post(jobs_kit.JOBS, files=kit.upload(kit.photo(600)), headers={"Authorization": f"Bearer {token}"}).json()["id"]
    with ws(gateway, job_id, token) as socket:
        events = events_of(socket)

    names = [e["event"] for e in events]
    assert names[-1] == "completed"
    assert names.count("engine_failed") == 2 and names.count("retrying") == 1 and names.count("processing") == 2
    retrying = next(e for e in events if e["event"] == "retrying")
    assert retrying["reason"] == "engines_unavailable" and 0.1 <= retrying["retry_in_s"] <= 1.0
    assert standin.calls() == {"plant_id": 2, "plantnet": 2, "gbif": 0}


def test_a_lasting_outage_fails_the_job_with_the_reason_and_gives_the_unit_back(
    http: httpx.Client, gateway: Any, job_stack: Any, standin: Any, tokens: Any, kit: SimpleNamespace, jobs_kit: SimpleNamespace
) -> None:
    user = uuid.uuid4()
    token = tokens.mint(user)
    standin.set("plant_id", "fail")
    standin.set("plantnet", "fail")

    response = http.post(jobs_kit.JOBS, files=kit.upload(kit.photo(610)), headers={"Authorization": f"Bearer {token}"})
    job_id = response.json()["id"]
    with ws(gateway, job_id, token) as socket:
        events = events_of(socket)

    assert response.headers["RateLimit-Remaining"] == "99"
    assert [e["event"] for e in events].count("retrying") == 2  # job_max_retries
    final = events[-1]
    assert final["event"] == "failed" and final["status"] == "failed"
    assert final["error"] == {"code": "service_unavailable", "detail": SERVICE_UNAVAILABLE}
    assert final["items"][0]["error"]["code"] == "service_unavailable"
    client = redis.Redis.from_url(job_stack.values["redis_url"])
    try:
        assert client.zcard(f"{job_stack.prefix}rl:user:{user}") == 0  # refunded: the unit is gone from the window
    finally:
        client.close()
    history = http.get(f"{jobs_kit.HISTORY}{job_id}/", headers={"Authorization": f"Bearer {token}"}).json()
    assert history["status"] == "failed" and history["error"]["code"] == "service_unavailable"


def test_photos_are_deleted_when_the_job_ends(http: httpx.Client, gateway: Any, standin: Any, tokens: Any, kit: SimpleNamespace, jobs_kit: SimpleNamespace) -> None:
    from sqlalchemy import create_engine, text

    headers = tokens.bearer()
    job_id = http.post(jobs_kit.JOBS, files=kit.upload(kit.photo(620)), headers=headers).json()["id"]
    jobs_kit.wait_for(http, job_id, headers)

    engine = create_engine(gateway.resources.settings.database_url)
    try:
        with engine.connect() as connection:
            left = connection.execute(text("SELECT count(*) FROM identification_uploads WHERE request_id = :id"), {"id": job_id}).scalar()
            job_input = connection.execute(text("SELECT input FROM identification_jobs WHERE id = :id"), {"id": job_id}).scalar()
    finally:
        engine.dispose()
    assert left == 0 and job_input is None  # the photos and the location are gone


def test_metrics_show_the_depth_of_every_lane(gateway: Any, worker: Any) -> None:
    metrics = httpx.get(f"{gateway.url}/metrics").text

    for lane in ("fast", "default", "slow", "priority"):
        assert f'gateway_celery_queue_depth{{queue="{lane}"}}' in metrics
