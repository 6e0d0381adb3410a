"""The provider stand-in: Plant.id v3 and Pl@ntNet v2 wire formats, keys, quotas and control modes."""

from __future__ import annotations

import base64
import io
import os
import random
import re
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from devstack.provider_standin.app import create_app
from devstack.provider_standin.catalogue import CATALOGUE

PLANT_ID_KEY = "test-plant-id-key-0123456789abcdefghijklmnopqrstuvwxyz"
PLANTNET_KEY = "2b10TestKeyForTheStandIn"
IDENTIFY_PLANT_ID = "/api/v3/identification"
IDENTIFY_PLANTNET = "/v2/identify/all"


def photo(seed: int, fmt: str = "JPEG") -> bytes:
    """A noisy, plant-coloured picture; each seed gives different bytes."""
    rng = random.Random(seed)
    image = Image.new("RGB", (96, 64))
    image.putdata([(rng.randrange(20, 90), rng.randrange(90, 200), rng.randrange(20, 80)) for _ in range(96 * 64)])
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def blank(fmt: str = "PNG") -> bytes:
    """One flat grey: what the stand-in takes for "not a plant"."""
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (128, 128, 128)).save(buffer, fmt)
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture
async def standin() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(plant_id_key=PLANT_ID_KEY, plantnet_key=PLANTNET_KEY)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://standin.test") as client:
        yield client


async def plant_id(client: httpx.AsyncClient, body: Any, *, key: str | None = PLANT_ID_KEY, params: dict[str, str] | None = None) -> httpx.Response:
    headers = {"Api-Key": key} if key is not None else {}
    return await client.post(IDENTIFY_PLANT_ID, json=body, headers=headers, params=params)


async def plantnet(client: httpx.AsyncClient, images: list[bytes], organs: list[str] | None = None, *, key: str | None = PLANTNET_KEY,
                   params: dict[str, str] | None = None, mime: str = "image/jpeg") -> httpx.Response:
    query = {"api-key": key} if key is not None else {}
    files = [("images", (f"photo{n}.jpg", data, mime)) for n, data in enumerate(images)]
    organs = ["leaf"] * len(images) if organs is None else organs
    return await client.post(IDENTIFY_PLANTNET, params={**query, **(params or {})}, files=files, data={"organs": organs})


async def control(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post("/_standin/control", json=body)
    assert response.status_code == 200, response.text
    return response.json()


# ---- Plant.id v3 ---------------------------------------------------------------------------------

async def test_plant_id_answers_the_documented_identification_object(standin: httpx.AsyncClient) -> None:
    response = await plant_id(standin, {"images": [b64(photo(1))], "latitude": 49.2, "longitude": 16.6, "similar_images": True})

    assert response.status_code == 201
    assert response.headers["X-Provider-Standin"] == "true"
    body = response.json()
    assert set(body) == {"access_token", "model_version", "custom_id", "input", "result", "status", "sla_compliant_client",
                         "sla_compliant_system", "created", "completed"}
    assert len(body["access_token"]) == 15 and body["model_version"].startswith("plant_id:")
    assert body["status"] == "COMPLETED" and body["custom_id"] is None
    assert isinstance(body["created"], float) and body["completed"] >= body["created"]
    assert body["input"]["latitude"] == 49.2 and body["input"]["similar_images"] is True
    assert body["input"]["images"][0].startswith("https://") and "health" not in body["input"]
    assert set(body["result"]) == {"is_plant", "classification"}  # no health keys unless health was asked
    assert body["result"]["is_plant"] == {"probability": body["result"]["is_plant"]["probability"], "binary": True, "threshold": 0.5}
    suggestions = body["result"]["classification"]["suggestions"]
    assert [s["probability"] for s in suggestions] == sorted((s["probability"] for s in suggestions), reverse=True)
    top = suggestions[0]
    assert re.fullmatch(r"[0-9a-f]{16}", top["id"]) and top["name"] in {s.name for s in CATALOGUE}
    assert top["details"] == {"language": "en", "entity_id": top["id"]}
    assert {"id", "url", "url_small", "similarity", "license_name", "license_url", "citation"} <= set(top["similar_images"][0])


async def test_plant_id_is_deterministic_per_image_and_varies_across_images(standin: httpx.AsyncClient) -> None:
    first = await plant_id(standin, {"images": [b64(photo(7))]})
    again = await plant_id(standin, {"images": [b64(photo(7))]})
    names = set()
    for seed in range(12):
        names.add((await plant_id(standin, {"images": [b64(photo(seed))]})).json()["result"]["classification"]["suggestions"][0]["name"])

    assert first.json()["result"] == again.json()["result"]
    assert len(names) >= 3


async def test_plant_id_details_and_language_come_from_the_query(standin: httpx.AsyncClient) -> None:
    response = await plant_id(standin, {"images": [b64(photo(2))]}, params={"details": "common_names,taxonomy,gbif_id,inaturalist_id", "language": "de"})

    details = response.json()["result"]["classification"]["suggestions"][0]["details"]
    assert details["language"] == "de"
    assert isinstance(details["common_names"], list) and details["taxonomy"]["kingdom"] == "Plantae"
    assert isinstance(details["gbif_id"], int)
    assert details["inaturalist_id"] is None  # a view with no data is null


async def test_plant_id_health_all_adds_health_and_disease_and_costs_two_credits(standin: httpx.AsyncClient) -> None:
    await control(standin, engine="plant_id", mode="ok", remaining=10)

    body = (await plant_id(standin, {"images": [b64(photo(3))], "health": "all"})).json()

    assert body["input"]["health"] == "all"
    assert set(body["result"]["is_healthy"]) == {"probability", "binary", "threshold"}
    assert body["result"]["disease"]["suggestions"][0]["name"]
    assert (await standin.get("/_standin/control")).json()["plant_id"]["remaining"] == 8


async def test_plant_id_accepts_data_uris(standin: httpx.AsyncClient) -> None:
    response = await plant_id(standin, {"images": [f"data:image/jpeg;base64,{b64(photo(4))}"]})

    assert response.status_code == 201


async def test_plant_id_says_a_flat_picture_is_not_a_plant(standin: httpx.AsyncClient) -> None:
    body = (await plant_id(standin, {"images": [b64(blank())]})).json()

    assert body["result"]["is_plant"]["binary"] is False
    assert body["result"]["is_plant"]["probability"] < 0.5


@pytest.mark.parametrize(
    ("key", "sentence"),
    [(None, "No api key provided."), ("wrong-key", "The specified api key not found.")],
)
async def test_plant_id_rejects_a_missing_or_wrong_key_with_the_documented_sentence(standin: httpx.AsyncClient, key: str | None, sentence: str) -> None:
    response = await plant_id(standin, {"images": [b64(photo(1))]}, key=key)

    assert response.status_code == 401
    assert response.text == sentence


async def test_plant_id_accepts_basic_auth_as_client(standin: httpx.AsyncClient) -> None:
    response = await standin.post(IDENTIFY_PLANT_ID, json={"images": [b64(photo(1))]}, auth=("client", PLANT_ID_KEY))

    assert response.status_code == 201


@pytest.mark.parametrize(
    ("raw", "sentence"),
    [
        (b'{"latitude": 1}', "Missing image data"),
        (b'{"images": "abc"}', "Images have to be list of base64 strings"),
        (b'{"images": ["%%%not base64%%%"]}', "Invalid base64 image data"),
        (b'{"images": ["aGVsbG8gd29ybGQ="]}', "Invalid image data"),
        (b"{not json", "Invalid json data"),
    ],
)
async def test_plant_id_bad_bodies_get_the_documented_400_sentences(standin: httpx.AsyncClient, raw: bytes, sentence: str) -> None:
    response = await standin.post(IDENTIFY_PLANT_ID, content=raw, headers={"Api-Key": PLANT_ID_KEY, "Content-Type": "application/json"})

    assert response.status_code == 400
    assert response.text == sentence


async def test_plant_id_refuses_a_datetime_with_z(standin: httpx.AsyncClient) -> None:
    rejected = await plant_id(standin, {"images": [b64(photo(1))], "datetime": "2024-05-01T10:20:30Z"})
    accepted = await plant_id(standin, {"images": [b64(photo(1))], "datetime": "2024-05-01T10:20:30+00:00"})

    assert rejected.status_code == 400 and accepted.status_code == 201


async def test_plant_id_out_of_credits_is_429_with_the_documented_sentence(standin: httpx.AsyncClient) -> None:
    await control(standin, engine="plant_id", mode="ok", remaining=1)

    spent = await plant_id(standin, {"images": [b64(photo(1))]})
    refused = await plant_id(standin, {"images": [b64(photo(1))]})

    assert spent.status_code == 201
    assert refused.status_code == 429
    assert refused.text == "The specified api key does not have sufficient number of available credits."


# ---- Pl@ntNet v2 ---------------------------------------------------------------------------------

async def test_plantnet_answers_the_documented_identification_object(standin: httpx.AsyncClient) -> None:
    response = await plantnet(standin, [photo(1), photo(2)], ["flower", "auto"], params={"lang": "fr"})

    assert response.status_code == 200
    assert response.headers["X-Provider-Standin"] == "true"
    body = response.json()
    assert body["query"]["project"] == "all" and body["query"]["organs"] == ["flower", "auto"]
    assert all(re.fullmatch(r"[0-9a-f]{32}", h) for h in body["query"]["images"])
    assert body["query"]["includeRelatedImages"] is False and body["query"]["noReject"] is False
    assert [o["filename"] for o in body["predictedOrgans"]] == ["photo0.jpg", "photo1.jpg"]
    assert body["language"] == "fr" and body["preferedReferential"] == "k-world-flora"
    results = body["results"]
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)
    species = results[0]["species"]
    assert body["bestMatch"] == species["scientificName"] == f"{species['scientificNameWithoutAuthor']} {species['scientificNameAuthorship']}"
    assert species["genus"]["scientificNameWithoutAuthor"] and species["family"]["scientificNameWithoutAuthor"]
    assert isinstance(results[0]["gbif"]["id"], str) and "images" not in results[0]
    assert isinstance(body["remainingIdentificationRequests"], int) and body["version"]
    assert response.headers["RateLimit-Policy"].startswith('"dailyQuota";q=')
    assert re.fullmatch(r'"dailyQuota";r=\d+;t=\d+', response.headers["RateLimit"])


async def test_both_engines_name_the_same_species_for_the_same_bytes(standin: httpx.AsyncClient) -> None:
    image = photo(5)

    by_plant_id = (await plant_id(standin, {"images": [b64(image)]})).json()["result"]["classification"]["suggestions"][0]["name"]
    by_plantnet = (await plantnet(standin, [image])).json()["results"][0]["species"]["scientificNameWithoutAuthor"]

    assert by_plant_id == by_plantnet


async def test_plantnet_query_options_shape_the_answer(standin: httpx.AsyncClient) -> None:
    body = (await plantnet(standin, [photo(1)], params={"nb-results": "1", "include-related-images": "true"})).json()

    assert len(body["results"]) == 1
    assert set(body["results"][0]["images"][0]["url"]) == {"o", "m", "s"}


@pytest.mark.parametrize(("key", "status"), [(None, 401), ("wrong-key", 401)])
async def test_plantnet_rejects_a_missing_or_wrong_key_with_the_boom_envelope(standin: httpx.AsyncClient, key: str | None, status: int) -> None:
    response = await plantnet(standin, [photo(1)], key=key)

    assert response.status_code == status
    body = response.json()
    assert body["statusCode"] == 401 and body["error"] == "Unauthorized" and body["message"]


async def test_plantnet_validates_organs_params_and_media_types(standin: httpx.AsyncClient) -> None:
    mismatch = await plantnet(standin, [photo(1), photo(2)], ["leaf"])
    bad_organ = await plantnet(standin, [photo(1)], ["root"])
    unknown_param = await plantnet(standin, [photo(1)], params={"colour": "green"})
    gif = await plantnet(standin, [photo(1, "GIF")], mime="image/gif")

    assert mismatch.status_code == 400 and mismatch.json()["error"] == "Bad Request"
    assert bad_organ.status_code == 400
    assert unknown_param.status_code == 400 and unknown_param.json()["message"] == '"colour" is not allowed'
    assert gif.status_code == 415


async def test_plantnet_rejects_a_non_plant_with_species_not_found_unless_no_reject(standin: httpx.AsyncClient) -> None:
    rejected = await plantnet(standin, [blank()], mime="image/png")
    kept = await plantnet(standin, [blank()], mime="image/png", params={"no-reject": "true"})

    assert rejected.status_code == 404
    assert rejected.json() == {"statusCode": 404, "error": "Not Found", "message": "Species not found"}
    assert kept.status_code == 200 and kept.json()["query"]["noReject"] is True


async def test_plantnet_counts_the_daily_quota_down_then_answers_429(standin: httpx.AsyncClient) -> None:
    await control(standin, engine="plantnet", mode="ok", remaining=2)

    first = await plantnet(standin, [photo(1)])
    second = await plantnet(standin, [photo(2)])
    third = await plantnet(standin, [photo(3)])

    assert [first.json()["remainingIdentificationRequests"], second.json()["remainingIdentificationRequests"]] == [1, 0]
    assert third.status_code == 429 and third.json()["statusCode"] == 429


# ---- control -------------------------------------------------------------------------------------

async def test_fail_mode_answers_500_for_that_engine_only(standin: httpx.AsyncClient) -> None:
    await control(standin, engine="plantnet", mode="fail")

    failed = await plantnet(standin, [photo(1)])
    other = await plant_id(standin, {"images": [b64(photo(1))]})

    assert failed.status_code == 500 and failed.json()["statusCode"] == 500
    assert other.status_code == 201


async def test_quota_mode_answers_each_engines_429(standin: httpx.AsyncClient) -> None:
    await control(standin, engine="plant_id", mode="quota")
    await control(standin, engine="plantnet", mode="quota")

    by_plant_id = await plant_id(standin, {"images": [b64(photo(1))]})
    by_plantnet = await plantnet(standin, [photo(1)])

    assert by_plant_id.status_code == 429 and "sufficient number of available credits" in by_plant_id.text
    assert by_plantnet.status_code == 429 and by_plantnet.json()["error"] == "Too Many Requests"


async def test_slow_mode_waits_before_answering(standin: httpx.AsyncClient) -> None:
    await control(standin, engine="plant_id", mode="slow", delay_s=0.3)

    started = time.perf_counter()
    response = await plant_id(standin, {"images": [b64(photo(1))]})

    assert response.status_code == 201
    assert time.perf_counter() - started >= 0.3


async def test_control_reports_calls_and_reset_restores_everything(standin: httpx.AsyncClient) -> None:
    await control(standin, engine="plant_id", mode="fail")
    await plant_id(standin, {"images": [b64(photo(1))]})
    await plant_id(standin, {"images": [b64(photo(1))]}, key=None)

    state = (await standin.get("/_standin/control")).json()
    reset = (await standin.post("/_standin/reset")).json()

    assert state["plant_id"]["calls"] == 2 and state["plant_id"]["mode"] == "fail" and state["plantnet"]["calls"] == 0
    assert reset["plant_id"]["calls"] == 0 and reset["plant_id"]["mode"] == "ok"


async def test_control_refuses_an_unknown_engine_or_mode(standin: httpx.AsyncClient) -> None:
    assert (await standin.post("/_standin/control", json={"engine": "trefle", "mode": "ok"})).status_code == 422
    assert (await standin.post("/_standin/control", json={"engine": "plant_id", "mode": "sleepy"})).status_code == 422


async def test_keys_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STANDIN_PLANT_ID_API_KEY", "from-the-environment")
    app = create_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://standin.test") as client:
        accepted = await plant_id(client, {"images": [b64(photo(1))]}, key="from-the-environment")
        livez = await client.get("/livez")

    assert accepted.status_code == 201
    assert livez.status_code == 200 and livez.headers["X-Provider-Standin"] == "true"


# ---- Plant.id usage_info and quota ---------------------------------------------------------------

async def test_plant_id_usage_info_counts_credits_as_the_sdk_fixture_shows(standin: httpx.AsyncClient) -> None:
    await control(standin, engine="plant_id", mode="ok", quota=10)
    await plant_id(standin, {"images": [b64(photo(1))], "health": "all"})  # 2 credits

    response = await standin.get("/api/v3/usage_info", headers={"Api-Key": PLANT_ID_KEY})

    assert response.status_code == 200
    assert response.json() == {
        "active": True,
        "credit_limits": {"day": None, "week": None, "month": None, "total": 10},
        "used": {"day": 2, "week": 2, "month": 2, "total": 2},
        "can_use_credits": {"value": True, "reason": None},
        "remaining": {"day": None, "week": None, "month": None, "total": 8},
    }
    state = (await standin.get("/_standin/control")).json()["plant_id"]
    assert state["calls"] == 1 and state["free_calls"] == 1  # usage_info is free and counted apart


async def test_plant_id_usage_info_says_when_credits_are_gone_and_needs_the_key(standin: httpx.AsyncClient) -> None:
    await control(standin, engine="plant_id", mode="ok", remaining=0)

    body = (await standin.get("/api/v3/usage_info", headers={"Api-Key": PLANT_ID_KEY})).json()
    anonymous = await standin.get("/api/v3/usage_info")

    assert body["can_use_credits"] == {"value": False, "reason": "The specified api key does not have sufficient number of available credits."}
    assert body["remaining"]["total"] == 0
    assert anonymous.status_code == 401 and anonymous.text == "No api key provided."


async def test_plantnet_quota_setting_shows_in_the_headers_and_the_429_keeps_them(standin: httpx.AsyncClient) -> None:
    await control(standin, engine="plantnet", mode="ok", quota=1)

    spent = await plantnet(standin, [photo(1)])
    refused = await plantnet(standin, [photo(2)])

    assert spent.headers["RateLimit-Policy"].startswith('"dailyQuota";q=1;') and spent.json()["remainingIdentificationRequests"] == 0
    assert refused.status_code == 429 and re.fullmatch(r'"dailyQuota";r=0;t=\d+', refused.headers["RateLimit"])


# ---- GBIF species match ------------------------------------------------------------------------

async def test_gbif_exact_match_has_the_v1_wire_format_and_needs_no_key(standin: httpx.AsyncClient) -> None:
    response = await standin.get("/v1/species/match", params={"name": "Hibiscus rosa-sinensis"})

    assert response.status_code == 200
    body = response.json()
    assert body["usageKey"] == body["speciesKey"] == 3152559
    assert body["scientificName"] == "Hibiscus rosa-sinensis L." and body["canonicalName"] == "Hibiscus rosa-sinensis"
    assert (body["rank"], body["status"], body["matchType"], body["synonym"]) == ("SPECIES", "ACCEPTED", "EXACT", False)
    assert 0 <= body["confidence"] <= 100
    assert (body["kingdom"], body["phylum"], body["class"], body["order"], body["family"], body["genus"], body["species"]) == (
        "Plantae", "Tracheophyta", "Magnoliopsida", "Malvales", "Malvaceae", "Hibiscus", "Hibiscus rosa-sinensis")
    assert body["kingdomKey"] == 6 and body["classKey"] == 220
    assert all(isinstance(body[k], int) for k in ("phylumKey", "orderKey", "familyKey", "genusKey"))
    assert "acceptedUsageKey" not in body
    assert (await standin.get("/_standin/control")).json()["gbif"]["calls"] == 1


async def test_gbif_matches_every_catalogue_species_by_its_own_key(standin: httpx.AsyncClient) -> None:
    for species in CATALOGUE:
        body = (await standin.get("/v1/species/match", params={"name": species.full_name, "kingdom": "Plantae"})).json()
        assert (body["matchType"], body["usageKey"]) == ("EXACT", int(species.gbif_id))


async def test_gbif_synonyms_point_at_the_accepted_name(standin: httpx.AsyncClient) -> None:
    body = (await standin.get("/v1/species/match", params={"name": "Sansevieria trifasciata"})).json()

    assert body["status"] == "SYNONYM" and body["synonym"] is True
    assert body["acceptedUsageKey"] == body["speciesKey"] == 2773780 and body["species"] == "Dracaena trifasciata"
    assert body["usageKey"] != body["acceptedUsageKey"]


async def test_gbif_fuzzy_unless_strict_then_higher_rank_then_none(standin: httpx.AsyncClient) -> None:
    async def match(**params: str) -> dict[str, Any]:
        response = await standin.get("/v1/species/match", params=params)
        assert response.status_code == 200
        return response.json()

    fuzzy = await match(name="Monstera deliciossa")
    strict = await match(name="Monstera deliciossa", strict="true")
    genus = await match(name="Ficus benjamina")
    unknown = await match(name="Quercus robur", verbose="true")
    animal = await match(name="Aloe vera", kingdom="Animalia")

    assert fuzzy["matchType"] == "FUZZY" and fuzzy["canonicalName"] == "Monstera deliciosa" and fuzzy["confidence"] < 98
    assert strict["matchType"] == "HIGHERRANK" and strict["rank"] == "GENUS" and strict["canonicalName"] == "Monstera"
    assert genus["matchType"] == "HIGHERRANK" and "speciesKey" not in genus and genus["usageKey"] == genus["genusKey"]
    assert unknown == {"confidence": 100, "matchType": "NONE", "synonym": False, "alternatives": []}
    assert animal["matchType"] == "NONE"


async def test_gbif_obeys_the_control_modes(standin: httpx.AsyncClient) -> None:
    await control(standin, engine="gbif", mode="fail", fail_status=503)
    failed = await standin.get("/v1/species/match", params={"name": "Aloe vera"})
    await control(standin, engine="gbif", mode="quota")
    restricted = await standin.get("/v1/species/match", params={"name": "Aloe vera"})

    assert failed.status_code == 503 and restricted.status_code == 429
    assert (await standin.get("/_standin/control")).json()["gbif"]["calls"] == 2


# ---- failure injection -------------------------------------------------------------------------

async def outcomes(client: httpx.AsyncClient, n: int) -> list[int]:
    return [(await plant_id(client, {"images": [b64(photo(1))]})).status_code for _ in range(n)]


async def test_error_rate_is_seeded_so_the_same_seed_fails_the_same_calls(standin: httpx.AsyncClient) -> None:
    await control(standin, engine="plant_id", error_rate=0.3, seed=42)
    first = await outcomes(standin, 40)
    await control(standin, engine="plant_id", error_rate=0.3, seed=42)
    again = await outcomes(standin, 40)
    await control(standin, engine="plant_id", error_rate=0.3, seed=7)
    other = await outcomes(standin, 40)

    assert first == again != other
    assert set(first) == {201, 500} and 5 <= first.count(500) <= 20
    assert (await standin.get("/_standin/control")).json()["plant_id"]["failures"] == first.count(500) * 2 + other.count(500)


async def test_fail_next_makes_an_engine_flap_then_recover(standin: httpx.AsyncClient) -> None:
    await control(standin, engine="plantnet", fail_next=3, fail_status=502)

    statuses = [(await plantnet(standin, [photo(n)])).status_code for n in range(5)]
    body = (await plantnet(standin, [photo(9)], params={"nb-results": "1"})).json()

    assert statuses == [502, 502, 502, 200, 200]
    assert body["results"]
    assert (await standin.get("/_standin/control")).json()["plantnet"]["fail_next"] == 0


async def test_injected_failures_use_each_engines_error_format(standin: httpx.AsyncClient) -> None:
    await control(standin, engine="plant_id", fail_next=1, fail_status=503)
    await control(standin, engine="plantnet", fail_next=1)

    by_plant_id = await plant_id(standin, {"images": [b64(photo(1))]})
    by_plantnet = await plantnet(standin, [photo(1)])

    assert by_plant_id.status_code == 503 and by_plant_id.text == "Service Unavailable"
    assert by_plantnet.json() == {"statusCode": 500, "error": "Internal Server Error", "message": "An internal server error occurred"}


async def test_delay_and_seeded_jitter_add_latency(standin: httpx.AsyncClient) -> None:
    await control(standin, engine="plantnet", delay_s=0.1, jitter_s=0.1, seed=1)

    started = time.perf_counter()
    response = await plantnet(standin, [photo(1)])

    assert response.status_code == 200
    assert 0.1 <= time.perf_counter() - started < 0.5


# ---- a real server: what only a socket can show --------------------------------------------------

@pytest.fixture(scope="module")
def served_standin() -> Iterator[str]:
    """`uvicorn devstack.provider_standin.app:app` on a free port, as the local stack runs it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {**os.environ, "STANDIN_PLANT_ID_API_KEY": PLANT_ID_KEY, "STANDIN_PLANTNET_API_KEY": PLANTNET_KEY}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "devstack.provider_standin.app:app", "--host", "127.0.0.1", "--port", str(port)],
        env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{base_url}/livez", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"the stand-in did not start:\n{process.communicate()[0].decode(errors='replace')}", pytrace=False)
            time.sleep(0.1)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_down_mode_drops_the_connection_without_an_answer(served_standin: str) -> None:
    with httpx.Client(base_url=served_standin, timeout=5) as client:
        client.post("/_standin/control", json={"engine": "plantnet", "mode": "down"}).raise_for_status()
        try:
            # Closed or reset, depending on whether the request was still unread: either way no answer.
            with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
                client.post(IDENTIFY_PLANTNET, params={"api-key": PLANTNET_KEY}, files=[("images", ("a.jpg", photo(1), "image/jpeg"))], data={"organs": ["leaf"]})
            # The other engine and the control API still answer.
            other = client.post(IDENTIFY_PLANT_ID, json={"images": [b64(photo(1))]}, headers={"Api-Key": PLANT_ID_KEY})
            assert other.status_code == 201
        finally:
            client.post("/_standin/reset").raise_for_status()


def test_slow_mode_trips_a_client_timeout(served_standin: str) -> None:
    with httpx.Client(base_url=served_standin, timeout=0.5) as client:
        client.post("/_standin/control", json={"engine": "plant_id", "mode": "slow", "delay_s": 2}).raise_for_status()
        try:
            with pytest.raises(httpx.ReadTimeout):
                client.post(IDENTIFY_PLANT_ID, json={"images": [b64(photo(1))]}, headers={"Api-Key": PLANT_ID_KEY})
        finally:
            client.post("/_standin/reset").raise_for_status()


def test_hang_mode_outlasts_the_client_timeout_and_lets_go_when_the_client_does(served_standin: str) -> None:
    with httpx.Client(base_url=served_standin, timeout=5) as control_client:
        control_client.post("/_standin/control", json={"engine": "plantnet", "mode": "hang", "hang_s": 60}).raise_for_status()
        try:
            started = time.monotonic()
            with httpx.Client(base_url=served_standin, timeout=0.5) as client, pytest.raises(httpx.ReadTimeout):
                client.post(IDENTIFY_PLANTNET, params={"api-key": PLANTNET_KEY}, files=[("images", ("a.jpg", photo(1), "image/jpeg"))], data={"organs": ["leaf"]})
            assert time.monotonic() - started < 2
            # The other engine, GBIF and the control API still answer while a request hangs.
            other = control_client.post(IDENTIFY_PLANT_ID, json={"images": [b64(photo(1))]}, headers={"Api-Key": PLANT_ID_KEY})
            gbif = control_client.get("/v1/species/match", params={"name": "Aloe vera"})
            assert other.status_code == 201 and gbif.json()["matchType"] == "EXACT"
            assert control_client.get("/_standin/control").json()["plantnet"]["calls"] == 1
        finally:
            control_client.post("/_standin/reset").raise_for_status()
