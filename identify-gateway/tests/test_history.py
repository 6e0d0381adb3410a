"""`…/history/`: what a user identified, owner only (another user's ids are 404), paginated,
newest first; deleting one and deleting all."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any

import pytest
from httpx import AsyncClient


@pytest.fixture
async def gateway(standin: Any, tokens: Any, migrated_url: str, make_app: Callable[..., Any], running: Callable[..., Any]) -> AsyncIterator[AsyncClient]:
    async with running(make_app(anonymous_allowed=False)) as client:
        yield client


async def identify(client: AsyncClient, kit: SimpleNamespace, headers: dict[str, str], seed: int) -> dict[str, Any]:
    response = await client.post(kit.IDENTIFY, files=kit.upload(kit.photo(seed)), headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_an_identification_is_stored_with_the_answer_it_got(gateway: AsyncClient, tokens: Any, kit: SimpleNamespace) -> None:
    me = tokens.bearer()
    answer = await identify(gateway, kit, me, 80)

    response = await gateway.get(f"{kit.HISTORY}{answer['request_id']}/", headers=me)

    assert response.status_code == 200
    item = response.json()
    assert item["id"] == answer["request_id"] and item["status"] == "completed"
    assert item["result"] == answer
    assert item["plant_name"] == answer["plant_name"] and item["confidence"] == answer["confidence"]
    assert item["engines"] == ["plant_id", "plantnet"] and item["image_count"] == 1


async def test_history_is_newest_first_and_paginated(gateway: AsyncClient, tokens: Any, kit: SimpleNamespace) -> None:
    me = tokens.bearer()
    ids = [(await identify(gateway, kit, me, 81 + n))["request_id"] for n in range(3)]

    first = (await gateway.get(kit.HISTORY, params={"page_size": 2}, headers=me)).json()
    second = (await gateway.get(first["next"], headers=me)).json()

    assert first["count"] == 3
    assert [i["id"] for i in first["results"]] == ids[::-1][:2]
    assert [i["id"] for i in second["results"]] == ids[:1]
    assert second["next"] is None and second["previous"] is not None


async def test_someone_elses_identification_is_not_found(gateway: AsyncClient, tokens: Any, kit: SimpleNamespace) -> None:
    owner, stranger = tokens.bearer(), tokens.bearer()
    answer = await identify(gateway, kit, owner, 84)
    url = f"{kit.HISTORY}{answer['request_id']}/"

    read = await gateway.get(url, headers=stranger)
    delete = await gateway.delete(url, headers=stranger)
    listing = (await gateway.get(kit.HISTORY, headers=stranger)).json()

    assert read.status_code == 404 and read.json()["code"] == "not_found"
    assert delete.status_code == 404
    assert listing["count"] == 0
    assert (await gateway.get(url, headers=owner)).status_code == 200  # still there for its owner


async def test_an_unknown_id_is_404_and_a_malformed_one_422(gateway: AsyncClient, tokens: Any, kit: SimpleNamespace) -> None:
    me = tokens.bearer()

    assert (await gateway.get(f"{kit.HISTORY}{uuid.uuid4()}/", headers=me)).status_code == 404
    assert (await gateway.get(f"{kit.HISTORY}42/", headers=me)).status_code == 422


async def test_deleting_one_then_all(gateway: AsyncClient, tokens: Any, kit: SimpleNamespace) -> None:
    me = tokens.bearer()
    ids = [(await identify(gateway, kit, me, 85 + n))["request_id"] for n in range(3)]

    deleted = await gateway.delete(f"{kit.HISTORY}{ids[0]}/", headers=me)
    again = await gateway.delete(f"{kit.HISTORY}{ids[0]}/", headers=me)
    cleared = await gateway.delete(kit.HISTORY, headers=me)

    assert deleted.status_code == 204 and again.status_code == 404
    assert cleared.json() == {"deleted": 2}
    assert (await gateway.get(kit.HISTORY, headers=me)).json()["count"] == 0


async def test_history_needs_a_token(gateway: AsyncClient, kit: SimpleNamespace) -> None:
    response = await gateway.get(kit.HISTORY)

    assert response.status_code == 401 and response.json()["code"] == "not_authenticated"


async def test_a_cache_hit_is_stored_too_with_its_own_id(gateway: AsyncClient, tokens: Any, kit: SimpleNamespace) -> None:
    me = tokens.bearer()
    first = await identify(gateway, kit, me, 88)
    second = await identify(gateway, kit, me, 88)

    items = (await gateway.get(kit.HISTORY, headers=me)).json()["results"]

    assert second["cached"] is True
    assert [i["id"] for i in items] == [second["request_id"], first["request_id"]]
    assert items[0]["cached"] is True


async def test_anonymous_identifications_are_not_stored(standin: Any, migrated_url: str, make_app: Callable[..., Any], running: Callable[..., Any], kit: SimpleNamespace) -> None:
    from sqlalchemy import create_engine, text

    async with running(make_app(anonymous_allowed=True)) as client:
        answer = (await client.post(kit.IDENTIFY, files=kit.upload(kit.photo(89)))).json()

    engine = create_engine(migrated_url)
    try:
        with engine.connect() as connection:
            count = connection.execute(text("SELECT count(*) FROM identification_requests WHERE id = :id"), {"id": answer["request_id"]}).scalar()
    finally:
        engine.dispose()
    assert count == 0
