"""Authorisation matrix, through the edge: every owner-only resource of the three services, each verb,
asked for by another member, by an anonymous caller and with the owner's own token expired.

Another member gets 404 (exactly like an id that does not exist: nothing tells them the resource is
there); anonymous and expired callers get 401. Nobody but the owner ever sees the data, and after
each refused update or delete the owner still reads the resource unchanged. The owner's genuine
token reading each resource is the control that proves every row can fail.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from bench.gateway_common import small_jpeg

GATEWAY = "/api/v1/plant-identification"
PLANTS = "/api/v1/garden/plants/"
TASKS = "/api/v1/calendar/tasks/"
EVENTS = "/api/v1/calendar/events/"


@dataclass(frozen=True)
class Request:
    """One verb on one resource; `{…}` in the path are ids of the owner's resources."""

    method: str
    path: str
    json: dict[str, Any] | None = None
    photo: bool = False  # send a valid photo (multipart), so only ownership can refuse it
    owner_check: str | None = None  # after a refused write: the owner must still read this, unchanged
    data_keys: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


# Resources with an id: another member gets 404, anonymous and expired callers 401.
BY_ID = [
    Request("GET", f"{GATEWAY}/history/{{history}}/"),
    Request("DELETE", f"{GATEWAY}/history/{{history}}/", owner_check=f"{GATEWAY}/history/{{history}}/"),
    Request("GET", f"{GATEWAY}/identifications/{{job}}/"),
    Request("GET", f"{PLANTS}{{plant}}/"),
    Request("PUT", f"{PLANTS}{{plant}}/", json={"nickname": "Stolen"}, owner_check=f"{PLANTS}{{plant}}/"),
    Request("PATCH", f"{PLANTS}{{plant}}/", json={"nickname": "Stolen"}, owner_check=f"{PLANTS}{{plant}}/"),
    Request("DELETE", f"{PLANTS}{{plant}}/", owner_check=f"{PLANTS}{{plant}}/"),
    Request("GET", f"{PLANTS}{{plant}}/photos/"),
    Request("POST", f"{PLANTS}{{plant}}/photos/", photo=True, owner_check=f"{PLANTS}{{plant}}/photos/"),
    Request("GET", f"{PLANTS}{{plant}}/photos/{{photo}}/"),
    Request("PATCH", f"{PLANTS}{{plant}}/photos/{{photo}}/", json={"caption": "Stolen"}, owner_check=f"{PLANTS}{{plant}}/photos/{{photo}}/"),
    Request("DELETE", f"{PLANTS}{{plant}}/photos/{{photo}}/", owner_check=f"{PLANTS}{{plant}}/photos/{{photo}}/"),
    Request("GET", f"{PLANTS}{{plant}}/photos/{{photo}}/image/"),
    Request("GET", f"{TASKS}{{task}}/"),
    Request("PUT", f"{TASKS}{{task}}/", json={"plant_id": "{plant}", "kind": "feeding", "interval_days": 3}, owner_check=f"{TASKS}{{task}}/"),
    Request("PATCH", f"{TASKS}{{task}}/", json={"interval_days": 3}, owner_check=f"{TASKS}{{task}}/"),
    Request("DELETE", f"{TASKS}{{task}}/", owner_check=f"{TASKS}{{task}}/"),
    Request("GET", f"{EVENTS}{{event}}/"),
    Request("POST", f"{EVENTS}{{event}}/done/", owner_check=f"{EVENTS}{{event}}/"),
    Request("POST", f"{EVENTS}{{event}}/skip/", owner_check=f"{EVENTS}{{event}}/"),
]

# The caller's own collections and account: anonymous and expired callers get 401; another
# member gets their own (empty) collection, never one of the owner's ids.
OWN_LISTS = [
    Request("GET", f"{GATEWAY}/history/", data_keys=("history",)),
    Request("GET", PLANTS, data_keys=("plant",)),
    Request("GET", TASKS, data_keys=("task", "plant")),
    Request("GET", EVENTS, data_keys=("event", "task", "plant")),
    Request("GET", "/api/v1/calendar/today/", data_keys=("event", "task", "plant")),
]
ACCOUNT = [
    Request("GET", "/api/v1/auth/me"),
    Request("PATCH", "/api/v1/auth/me", json={"display_name": "Stolen"}),
    Request("DELETE", "/api/v1/auth/me", json={"password": "guess"}),
    Request("POST", "/api/v1/auth/change-password", json={"current_password": "guess", "new_password": "An0ther-long-password"}),
    Request("POST", "/api/v1/auth/logout"),
    Request("POST", "/api/v1/auth/logout-all"),
    Request("DELETE", f"{GATEWAY}/history/"),
    Request("GET", "/api/v1/garden/profile/"),
    Request("PUT", "/api/v1/garden/profile/", json={"timezone": "UTC"}),
    Request("PATCH", "/api/v1/garden/profile/", json={"has_pets": True}),
    Request("GET", "/api/v1/calendar/ical/"),
    Request("POST", "/api/v1/calendar/ical/"),
    Request("DELETE", "/api/v1/calendar/ical/"),
    Request("POST", TASKS, json={"plant_id": "{plant}", "kind": "watering", "interval_days": 7}),
]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def send(edge: httpx.Client, request: Request, ids: dict[str, str], headers: dict[str, str]) -> httpx.Response:
    body: dict[str, Any] = {}
    if request.photo:
        body["files"] = {"image": ("plant.jpg", small_jpeg(7), "image/jpeg")}
    elif request.json is not None:
        body["json"] = json.loads(json.dumps(request.json).replace('"{plant}"', json.dumps(ids["plant"])))
    return edge.request(request.method, request.path.format(**ids), headers=headers, **body)


def assert_refused(response: httpx.Response, status: int, ids: dict[str, str]) -> None:
    assert response.status_code == status, (response.status_code, response.text[:300])
    body = response.json()
    assert set(body) >= {"detail", "code"} and body["detail"], body
    leaked = [name for name, value in ids.items() if value in response.text]
    assert not leaked, f"the refusal names the owner's {leaked}"


@pytest.fixture(scope="module")
def owned(edge_url: str, owner: dict[str, Any]) -> dict[str, str]:
    """One of each owner-only resource, made by the owner through the edge: their ids by name."""
    headers = bearer(owner["access_token"])
    with httpx.Client(base_url=edge_url, timeout=30, headers=headers) as edge:
        identified = edge.post(f"{GATEWAY}/identify/", files={"image": ("plant.jpg", small_jpeg(11), "image/jpeg")})
        assert identified.status_code == 200, identified.text
        job = edge.post(f"{GATEWAY}/identifications/", files={"image": ("plant.jpg", small_jpeg(12), "image/jpeg")})
        assert job.status_code == 202, job.text
        history = edge.get(f"{GATEWAY}/history/").json()["results"]
        assert history, "the identification did not reach the history"
        plant = edge.post(PLANTS, json={"nickname": "Owner's fern", "location": "hall"})
        assert plant.status_code == 201, plant.text
        plant_id = plant.json()["id"]
        photo = edge.post(f"{PLANTS}{plant_id}/photos/", files={"image": ("fern.jpg", small_jpeg(13), "image/jpeg")})
        assert photo.status_code == 201, photo.text
        task = edge.post(TASKS, json={"plant_id": plant_id, "kind": "watering", "interval_days": 7})
        assert task.status_code == 201, task.text
        today = datetime.date.today()
        window = {"start": (today - datetime.timedelta(days=1)).isoformat(), "end": (today + datetime.timedelta(days=30)).isoformat()}
        events = edge.get(EVENTS, params={**window, "task": task.json()["id"]}).json()["results"]
        assert events, "the task has no calendar event"
    return {
        "history": history[-1]["id"], "job": job.json()["id"], "plant": plant_id, "photo": photo.json()["id"],
        "task": task.json()["id"], "event": events[0]["id"],
    }  # fmt: skip


@pytest.fixture(scope="module")
def callers(owner: dict[str, Any], intruder: dict[str, Any], expired_token_of: Callable[[str], str]) -> dict[str, dict[str, str]]:
    return {"another member": bearer(intruder["access_token"]), "anonymous": {}, "expired token": bearer(expired_token_of(owner["access_token"]))}


@pytest.mark.parametrize("request_", BY_ID, ids=str)
def test_the_owner_reaches_each_resource(edge: httpx.Client, owned: dict[str, str], owner: dict[str, Any], request_: Request) -> None:
    path = request_.owner_check or request_.path
    assert edge.get(path.format(**owned), headers=bearer(owner["access_token"])).status_code == 200


@pytest.mark.parametrize("caller", ["another member", "anonymous", "expired token"])
@pytest.mark.parametrize("request_", BY_ID, ids=str)
def test_nobody_else_reaches_a_resource_by_id(
    edge: httpx.Client, owned: dict[str, str], owner: dict[str, Any], callers: dict[str, dict[str, str]], request_: Request, caller: str
) -> None:
    before = edge.get(request_.owner_check.format(**owned), headers=bearer(owner["access_token"])) if request_.owner_check else None

    response = send(edge, request_, owned, callers[caller])

    assert_refused(response, 404 if caller == "another member" else 401, owned)
    if before is not None:  # the refused write changed nothing
        after = edge.get(request_.owner_check.format(**owned), headers=bearer(owner["access_token"]))
        assert after.status_code == 200 and after.json() == before.json()


@pytest.mark.parametrize("request_", OWN_LISTS, ids=str)
def test_another_member_lists_none_of_the_owners_resources(
    edge: httpx.Client, owned: dict[str, str], owner: dict[str, Any], callers: dict[str, dict[str, str]], request_: Request
) -> None:
    mine = edge.get(request_.path, headers=bearer(owner["access_token"]))
    theirs = edge.get(request_.path, headers=callers["another member"])

    assert mine.status_code == theirs.status_code == 200
    assert any(owned[key] in mine.text for key in request_.data_keys), "control: the owner's list shows the resource"
    assert not [key for key in request_.data_keys if owned[key] in theirs.text]


@pytest.mark.parametrize("caller", ["anonymous", "expired token"])
@pytest.mark.parametrize("request_", OWN_LISTS + ACCOUNT, ids=str)
def test_own_collections_and_the_account_need_a_valid_token(
    edge: httpx.Client, owned: dict[str, str], owner: dict[str, Any], callers: dict[str, dict[str, str]], request_: Request, caller: str
) -> None:
    assert_refused(send(edge, request_, owned, callers[caller]), 401, owned)
    assert edge.get("/api/v1/auth/me", headers=bearer(owner["access_token"])).status_code == 200  # the owner's session lives on


def test_another_member_cannot_hang_a_task_on_the_owners_plant(edge: httpx.Client, owned: dict[str, str], callers: dict[str, dict[str, str]]) -> None:
    # The plant is named in the body, not the path: refused as a plant that does not exist (400).
    response = edge.post(TASKS, json={"plant_id": owned["plant"], "kind": "watering", "interval_days": 7}, headers=callers["another member"])

    assert response.status_code == 400, response.text
    assert "plant_id" in response.json().get("errors", response.json())


# --- the job's WebSocket ---------------------------------------------------------------------------


def socket_refusal(url: str, token: str | None) -> tuple[int | None, list[str]]:
    """The close code of a job socket opened with `token` (subprotocol), and any message it sent first."""
    received: list[str] = []
    with connect(url, subprotocols=["bearer", token] if token else None, proxy=None) as socket:  # type: ignore[list-item]
        try:
            while True:
                received.append(str(socket.recv(timeout=10)))
        except ConnectionClosed:
            return socket.close_code, received


# The socket protocol (docs/jobs.md) answers another member's job like a missing one, as REST does.
SOCKET_REFUSALS = {"another member": 4404, "anonymous": 4401, "expired token": 4401}


@pytest.mark.parametrize("caller", sorted(SOCKET_REFUSALS))
def test_nobody_else_listens_to_a_job(edge_url: str, owned: dict[str, str], callers: dict[str, dict[str, str]], caller: str) -> None:
    token = callers[caller].get("Authorization", "").removeprefix("Bearer ") or None

    code, received = socket_refusal(f"ws{edge_url[4:]}/ws/v1/identifications/{owned['job']}", token)

    assert code == SOCKET_REFUSALS[caller] and received == []


def test_the_owner_listens_to_the_job(edge_url: str, owned: dict[str, str], owner: dict[str, Any]) -> None:
    code, received = socket_refusal(f"ws{edge_url[4:]}/ws/v1/identifications/{owned['job']}", owner["access_token"])

    assert code == 1000 and json.loads(received[0])["job_id"] == owned["job"]
