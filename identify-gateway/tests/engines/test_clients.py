"""The engine clients' wire formats and error classification, each against recorded-style answers
through `httpx.MockTransport` (a client's own unit tests; the pipeline tests use the stand-in)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from identify_gateway.engines.base import EngineFailure, EngineTimeout, ImageRejected, OutOfQuota
from identify_gateway.engines.cms import CmsClient, SpeciesQuery, parse_lookup
from identify_gateway.engines.gbif import GbifClient
from identify_gateway.engines.plant_id import PlantIdClient
from identify_gateway.engines.plantnet import PlantNetClient
from identify_gateway.service_tokens import ServiceTokens

PLANT_ID_ANSWER = {
    "access_token": "biXpfz7Fbe6cNLw", "model_version": "plant_id:3.4.1", "custom_id": None,
    "input": {"latitude": None, "longitude": None, "similar_images": True, "images": ["https://plant.id/media/imgs/x.jpg"], "datetime": "2023-11-28T08:38:48+00:00"},
    "result": {
        "is_plant": {"probability": 1.0, "binary": True, "threshold": 0.5},
        "classification": {"suggestions": [
            {"id": "4ba05f1050481731", "name": "Aloe vera", "probability": 0.9653,
             "similar_images": [{"id": "a", "url": "https://x/a.jpeg", "url_small": "https://x/a.s.jpeg", "similarity": 0.764,
                                 "license_name": "CC BY-SA 4.0", "license_url": "https://creativecommons.org/licenses/by-sa/4.0/", "citation": "Jane Doe"}],
             "details": {"common_names": ["Aloe"], "url": "https://en.wikipedia.org/wiki/Aloe_vera", "gbif_id": 2777724,
                         "taxonomy": {"genus": "Aloe", "family": "Asphodelaceae"}, "watering": {"min": 1, "max": 1}, "language": "en", "entity_id": "4ba0"}},
        ]},
    },
    "status": "COMPLETED", "sla_compliant_client": True, "sla_compliant_system": True, "created": 1701160728.5, "completed": 1701160729.2,
}  # fmt: skip
PLANTNET_ANSWER = {
    "query": {"project": "all", "images": ["2c8e"], "organs": ["flower"], "includeRelatedImages": True, "noReject": False},
    "language": "en", "preferedReferential": "k-world-flora", "bestMatch": "Hibiscus rosa-sinensis L.",
    "results": [{"score": 0.91806, "species": {
        "scientificNameWithoutAuthor": "Hibiscus rosa-sinensis", "scientificNameAuthorship": "L.", "scientificName": "Hibiscus rosa-sinensis L.",
        "genus": {"scientificNameWithoutAuthor": "Hibiscus", "scientificNameAuthorship": "", "scientificName": "Hibiscus"},
        "family": {"scientificNameWithoutAuthor": "Malvaceae", "scientificNameAuthorship": "", "scientificName": "Malvaceae"},
        "commonNames": ["Hawaiian hibiscus"]}, "gbif": {"id": "3152559"},
        "images": [{"organ": "flower", "author": "A. Botanist", "license": "cc-by-sa", "citation": "A. Botanist / Pl@ntNet, cc-by-sa",
                    "url": {"o": "https://bs/o", "m": "https://bs/m", "s": "https://bs/s"}}]}],
    "version": "2025-01-15 (7.3)", "remainingIdentificationRequests": 497,
}  # fmt: skip


def client_for(handler: Callable[[httpx.Request], httpx.Response], base: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url=base)


def plant_id(handler: Callable[[httpx.Request], httpx.Response]) -> PlantIdClient:
    return PlantIdClient(client_for(handler, "https://plant.id/api/v3"), api_key="k", timeout_s=2, image_long_side=1500)


def plantnet(handler: Callable[[httpx.Request], httpx.Response]) -> PlantNetClient:
    return PlantNetClient(client_for(handler, "https://my-api.plantnet.org/v2"), api_key="k", project="all", timeout_s=2, image_long_side=1280)


async def test_plant_id_sends_base64_json_with_the_key_header_and_parses_suggestions() -> None:
    seen: dict[str, Any] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["request"], seen["body"] = request, json.loads(request.content)
        return httpx.Response(201, json=PLANT_ID_ANSWER)

    result = await plant_id(handler).identify([b"\xff\xd8jpeg"], latitude=48.85, longitude=2.35, language="de", health=True)

    request, body = seen["request"], seen["body"]
    assert request.url.path == "/api/v3/identification" and request.headers["Api-Key"] == "k"
    assert request.url.params["language"] == "de" and "common_names" in request.url.params["details"]
    assert body["images"] == ["/9hqcGVn"] and body["health"] == "all" and body["similar_images"] is True
    assert (body["latitude"], body["longitude"]) == (48.85, 2.35)
    (aloe,) = result.candidates
    assert (aloe.scientific_name, aloe.score, aloe.gbif_id, aloe.common_names) == ("Aloe vera", 0.9653, 2777724, ("Aloe",))
    assert aloe.similar_images[0].citation == "Jane Doe" and result.model_version == "plant_id:3.4.1"


@pytest.mark.parametrize(
    ("status", "text", "error"),
    [
        (429, "The specified api key does not have sufficient number of available credits.", OutOfQuota),
        (400, "Invalid image data", ImageRejected),
        (401, "The specified api key not found.", EngineFailure),
        (500, "Internal Server Error", EngineFailure),
        (503, "", EngineFailure),
    ],
)
async def test_plant_id_errors_are_classified(status: int, text: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        await plant_id(lambda _: httpx.Response(status, text=text)).identify([b"x"], latitude=None, longitude=None, language="en", health=False)


async def test_plant_id_accepts_error_bodies_sent_as_json_strings() -> None:
    with pytest.raises(ImageRejected, match="Missing image data"):
        await plant_id(lambda _: httpx.Response(400, json="Missing image data")).identify([b"x"], latitude=None, longitude=None, language="en", health=False)


async def test_an_incomplete_or_garbled_answer_is_a_failure() -> None:
    for answer in ({**PLANT_ID_ANSWER, "status": "CREATED"}, {"nonsense": True}):
        with pytest.raises(EngineFailure):
            await plant_id(lambda _, a=answer: httpx.Response(200, json=a)).identify([b"x"], latitude=None, longitude=None, language="en", health=False)
    with pytest.raises(EngineFailure, match="not JSON"):
        await plant_id(lambda _: httpx.Response(200, text="<html>")).identify([b"x"], latitude=None, longitude=None, language="en", health=False)


async def test_a_transport_error_and_a_timeout_are_failures() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(EngineFailure, match="ConnectError"):
        await plant_id(refuse).identify([b"x"], latitude=None, longitude=None, language="en", health=False)
    with pytest.raises(EngineTimeout):
        await plant_id(slow).identify([b"x"], latitude=None, longitude=None, language="en", health=False)


async def test_plantnet_sends_multipart_images_with_organs_and_the_key_in_the_query() -> None:
    seen: dict[str, Any] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["request"] = request
        seen["body"] = request.read()
        return httpx.Response(200, json=PLANTNET_ANSWER, headers={"RateLimit": '"dailyQuota";r=497;t=43210', "RateLimit-Policy": '"dailyQuota";q=500;w=86400'})

    result = await plantnet(handler).identify([b"img1", b"img2"], latitude=None, longitude=None, language="fr", health=False, organs=["flower", "leaf"])

    request = seen["request"]
    assert request.url.path == "/v2/identify/all"
    assert request.url.params["api-key"] == "k" and request.url.params["lang"] == "fr" and request.url.params["include-related-images"] == "true"
    assert request.headers["content-type"].startswith("multipart/form-data")
    assert seen["body"].count(b'name="images"') == 2 and seen["body"].count(b'name="organs"') == 2
    assert seen["body"].index(b"flower") < seen["body"].index(b"leaf")
    (hibiscus,) = result.candidates
    assert (hibiscus.scientific_name, hibiscus.gbif_id, hibiscus.authorship) == ("Hibiscus rosa-sinensis", 3152559, "L.")
    assert hibiscus.similar_images[0].license_url == "https://creativecommons.org/licenses/by-sa/4.0/"
    assert result.quota is not None and (result.quota.remaining, result.quota.reset_in_s, result.quota.limit) == (497, 43210, 500)


async def test_plantnet_species_not_found_is_an_empty_valid_answer() -> None:
    answer = {"statusCode": 404, "error": "Not Found", "message": "Species not found"}
    result = await plantnet(lambda _: httpx.Response(404, json=answer)).identify([b"x"], latitude=None, longitude=None, language="en", health=False)

    assert result.no_match is True and result.candidates == ()


@pytest.mark.parametrize(
    ("status", "error"),
    [(429, OutOfQuota), (400, ImageRejected), (413, ImageRejected), (415, ImageRejected), (401, EngineFailure), (404, EngineFailure), (500, EngineFailure)],
)
async def test_plantnet_errors_are_classified(status: int, error: type[Exception]) -> None:
    answer = {"statusCode": status, "error": "x", "message": "Not found" if status == 404 else "x"}
    with pytest.raises(error) as raised:
        await plantnet(lambda _: httpx.Response(status, json=answer)).identify([b"x"], latitude=None, longitude=None, language="en", health=False)
    if status == 429:
        assert isinstance(raised.value, OutOfQuota) and 0 < (raised.value.reset_in_s or 0) <= 86400  # until 00:00 UTC


async def test_gbif_match_parses_accepted_and_synonym_names_and_remembers_them() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.params["name"])
        if request.url.params["name"] == "Sansevieria trifasciata":
            return httpx.Response(200, json={"usageKey": 1, "canonicalName": "Sansevieria trifasciata", "status": "SYNONYM", "matchType": "EXACT",
                                             "species": "Dracaena trifasciata", "speciesKey": 2773780, "acceptedUsageKey": 2773780})  # fmt: skip
        return httpx.Response(200, json={"confidence": 100, "matchType": "NONE", "synonym": False})

    gbif = GbifClient(client_for(handler, "https://api.gbif.org/v1"), timeout_s=2, ttl_s=60)

    synonym = await gbif.match("Sansevieria trifasciata")
    unknown = await gbif.match("Nothing at all")
    again = await gbif.match("sansevieria trifasciata")

    assert synonym is not None and synonym.accepted_name == "Dracaena trifasciata" and synonym.species_key == 2773780
    assert unknown is None
    assert again == synonym and calls == ["Sansevieria trifasciata", "Nothing at all"]


async def test_cms_lookup_uses_a_service_token_and_retries_once_with_a_fresh_one() -> None:
    issued: list[str] = []
    seen: list[tuple[str, Any]] = []

    def auth(request: httpx.Request) -> httpx.Response:
        assert b"grant_type=client_credentials" in request.content and b"audience=cms" in request.content
        issued.append(f"token-{len(issued)}")
        return httpx.Response(200, json={"access_token": issued[-1], "token_type": "Bearer", "expires_in": 300, "scope": "internal"})

    def cms(request: httpx.Request) -> httpx.Response:
        seen.append((request.headers["Authorization"], json.loads(request.content)))
        if len(seen) == 1:
            return httpx.Response(401, json={"detail": "expired", "code": "token_expired"})
        return httpx.Response(200, json={
            "results": [{
                "query": {"name": "Aloe barbadensis", "gbif_key": None}, "match": "synonym",
                "species": {"scientific_name": "Aloe vera", "gbif_key": 2777724, "toxicity": {"people": "low", "pets": "high", "notes": ""}},
                "page": {"id": 7, "title": "Aloe vera", "url": "https://x/aloe/", "api_url": "/api/v2/pages/7/"},
                "care_summary": {"watering": {"summary": "Sparingly.", "interval_days_growing": 14}, "seasonal_tasks": [{"month": 4, "task": "Repot"}]},
            }],
            "unmatched": {"names": [], "gbif_keys": []},
        })  # fmt: skip

    tokens = ServiceTokens(client_for(auth, "http://auth.test"), token_url="http://auth.test/api/v1/auth/token", client_id="gw", client_secret="s" * 40, audience="cms")
    pages = await CmsClient(client_for(cms, "http://cms.test"), tokens=tokens, timeout_s=2).lookup([SpeciesQuery("Aloe barbadensis"), SpeciesQuery("Aloe vera", 2777724)])

    assert [auth for auth, _ in seen] == ["Bearer token-0", "Bearer token-1"]
    assert seen[1][1] == {"names": ["Aloe barbadensis", "Aloe vera"], "gbif_keys": [2777724]}
    (aloe,) = pages
    assert aloe.scientific_name == "Aloe vera" and aloe.aliases == ("Aloe barbadensis",) and aloe.url == "https://x/aloe/"
    assert aloe.care == {"watering": "Sparingly.", "toxicity": "people: low; pets: high"}


def test_cms_lookup_skips_malformed_entries() -> None:
    answer = {"results": [{"species": {"title": "no name"}}, "junk", {"species": {"scientific_name": "Ficus lyrata"}, "page": None, "care_summary": None}]}
    (ficus,) = parse_lookup(answer)
    assert ficus.scientific_name == "Ficus lyrata" and ficus.url is None and ficus.care == {}
    with pytest.raises(EngineFailure):
        parse_lookup({"detail": "Not found."})
