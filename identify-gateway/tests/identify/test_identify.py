"""`POST …/identify/` against a real stand-in process, Redis and PostgreSQL: the answer, the cache,
the engines failing in every way the stand-in can, and what the engines receive."""

from __future__ import annotations

import asyncio
import io
import os
import time
import uuid
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from PIL import Image
from prometheus_client import REGISTRY

from identify_gateway.schemas import IdentificationResponse

SERVICE_UNAVAILABLE = "Plant.id service is temporarily unavailable. Please try again in a few moments."


def decodes() -> float:
    return REGISTRY.get_sample_value("gateway_image_decodes_total", {"outcome": "ok"}) or 0.0


async def test_happy_path_answers_the_seed_body_with_provenance(standin: Any, make_app: Callable[..., Any], running: Callable[..., Any], kit: SimpleNamespace) -> None:
    async with running(make_app()) as client:
        response = await client.post(kit.IDENTIFY, files=kit.upload(kit.photo(1)))

    assert response.status_code == 200, response.text
    body = response.json()
    IdentificationResponse.model_validate(body)  # the documented schema
    assert body["success"] is True and body["cached"] is False and body["degraded"] is False
    assert uuid.UUID(body["request_id"])
    top = body["suggestions"][0]
    assert body["plant_name"] == top["plant_name"] and body["scientific_name"] == top["scientific_name"]
    assert body["confidence"] == top["confidence"] and 0 < body["confidence"] <= 1
    assert {s["engine"] for s in top["sources"]} == {"plant_id", "plantnet"}
    assert all(i["license_name"] and i["citation"] for i in top["similar_images"])
    assert {e: r["status"] for e, r in body["engines"].items()} == {"plant_id": "ok", "plantnet": "ok"}
    assert body["engines"]["plant_id"]["source"] == "standin" and "stand-in" in body["notice"]
    assert body["care_instructions"]["source"] in ("plant_id", "generic")
    assert body["health_assessment"] is None
    assert response.headers["RateLimit-Limit"] == "10" and response.headers["RateLimit-Remaining"] == "9"


async def test_cache_hit_calls_no_engine_and_decodes_nothing(standin: Any, make_app: Callable[..., Any], running: Callable[..., Any], kit: SimpleNamespace) -> None:
    # Given an identification already answered
    image = kit.photo(2)
    async with running(make_app()) as client:
        first = (await client.post(kit.IDENTIFY, files=kit.upload(image))).json()
        calls, decoded = standin.calls(), decodes()

        # When the same photo is sent again (under another file name)
        response = await client.post(kit.IDENTIFY, files=kit.upload(image, name="again.jpeg"))

    # Then the answer comes from the cache: no engine call, no decoding
    body = response.json()
    assert response.status_code == 200
    assert body["cached"] is True
    assert standin.calls() == calls
    assert decodes() == decoded
    assert body["request_id"] != first["request_id"]
    assert {k: v for k, v in body.items() if k not in ("request_id", "cached")} == {k: v for k, v in first.items() if k not in ("request_id", "cached")}


async def test_every_parameter_that_changes_the_answer_misses_the_cache(standin: Any, make_app: Callable[..., Any], running: Callable[..., Any], kit: SimpleNamespace) -> None:
    image = kit.photo(3)
    async with running(make_app()) as client:
        for data in ({}, {"language": "de"}, {"health": "true"}, {"latitude": "48.85", "longitude": "2.35"}, {"organs": "flower"}):
            response = await client.post(kit.IDENTIFY, files=kit.upload(image), data=data)
            assert response.json()["cached"] is False, data

    assert standin.calls()["plant_id"] == 5


async def test_one_engine_down_answers_from_the_other_degraded(standin: Any, make_app: Callable[..., Any], running: Callable[..., Any], kit: SimpleNamespace) -> None:
    standin.set("plantnet", "down")
    async with running(make_app()) as client:
        response = await client.post(kit.IDENTIFY, files=kit.upload(kit.photo(4)))

    body = response.json()
    assert response.status_code == 200
    assert body["degraded"] is True and body["success"] is True
    assert body["engines"]["plantnet"]["status"] == "failed"
    assert body["engines"]["plant_id"]["status"] == "ok"
    assert {s["engine"] for s in body["suggestions"][0]["sources"]} == {"plant_id"}


async def test_a_slow_engine_is_cut_off_at_its_timeout(standin: Any, make_app: Callable[..., Any], running: Callable[..., Any], kit: SimpleNamespace) -> None:
    standin.set("plantnet", "slow", delay_s=5)
    async with running(make_app(plantnet_timeout_s=0.5)) as client:
        started = time.perf_counter()
        response = await client.post(kit.IDENTIFY, files=kit.upload(kit.photo(5)))
        elapsed = time.perf_counter() - started

    body = response.json()
    assert body["engines"]["plantnet"]["status"] == "timeout"
    assert body["degraded"] is True
    assert elapsed < 2.0


async def test_a_hanging_engine_is_cut_off_at_its_timeout(standin: Any, make_app: Callable[..., Any], running: Callable[..., Any], kit: SimpleNamespace) -> None:
    standin.set("plant_id", "hang")
    async with running(make_app(plant_id_timeout_s=0.5)) as client:
        started = time.perf_counter()
        response = await client.post(kit.IDENTIFY, files=kit.upload(kit.photo(6)))

    assert response.json()["engines"]["plant_id"]["status"] == "timeout"
    assert time.perf_counter() - started < 2.0


async def test_a_degraded_answer_is_cached_briefly_only(standin: Any, make_app: Callable[..., Any], running: Callable[..., Any], kit: SimpleNamespace) -> None:
    standin.set("plantnet", "down")
    image = kit.photo(7)
    async with running(make_app(degraded_cache_ttl_s=1)) as client:
        await client.post(kit.IDENTIFY, files=kit.upload(image))
        assert (await client.post(kit.IDENTIFY, files=kit.upload(image))).json()["cached"] is True
        standin.set("plantnet", "ok")
        await asyncio.sleep(1.3)
        response = await client.post(kit.IDENTIFY, files=kit.upload(image))

    assert response.json()["cached"] is False
    assert response.json()["degraded"] is False


async def test_all_engines_down_is_a_fast_503_with_retry_after(standin: Any, make_app: Callable[..., Any], running: Callable[..., Any], kit: SimpleNamespace) -> None:
    # Given both engines down, and breakers that open at the first failure
    standin.set("plant_id", "down")
    standin.set("plantnet", "down")
    async with running(make_app(plant_id_fail_max=1, plantnet_fail_max=1, breaker_reset_timeout_s=30)) as client:
        first = await client.post(kit.IDENTIFY, files=kit.upload(kit.photo(8)))
        calls = standin.calls()

        # When another photo comes
        started = time.perf_counter()
        response = await client.post(kit.IDENTIFY, files=kit.upload(kit.photo(9)))
        elapsed = time.perf_counter() - started

    # Then the seed's 503, at once, without calling anybody
    assert first.status_code == 503
    assert response.status_code == 503
    assert response.json() == {"detail": SERVICE_UNAVAILABLE, "code": "service_unavailable"}
    assert 1 <= int(response.headers["Retry-After"]) <= 30
    assert standin.calls() == calls
    assert elapsed < 0.2  # milliseconds in practice; the margin is for a loaded CI box


async def test_a_flapping_engine_opens_its_breaker_then_one_probe_closes_it(standin: Any, make_app: Callable[..., Any], running: Callable[..., Any], kit: SimpleNamespace) -> None:
    # Given Pl@ntNet failing its next two calls, and a breaker that opens after two
    standin.set("plantnet", "ok", fail_next=2)
    app = make_app(plantnet_fail_max=2, breaker_reset_timeout_s=0.5)
    async with running(app) as client:
        statuses = [(await client.post(kit.IDENTIFY, files=kit.upload(kit.photo(10 + n)))).json()["engines"]["plantnet"]["status"] for n in range(3)]
        calls_while_open = standin.calls()["plantnet"]

        # When the reset timeout has passed
        await asyncio.sleep(0.6)
        probe = (await client.post(kit.IDENTIFY, files=kit.upload(kit.photo(13)))).json()
        snapshot = await app.resources.breakers["plantnet"].snapshot()

    # Then: two failures, one fast refusal with no call, then a successful probe closes it
    assert statuses == ["failed", "failed", "circuit_open"]
    assert calls_while_open == 2
    assert probe["engines"]["plantnet"]["status"] == "ok" and probe["degraded"] is False
    assert snapshot.state == "closed" and snapshot.fail_count == 0


async def test_plant_id_out_of_credits_forces_its_breaker_open_and_is_not_called_again(standin: Any, make_app: Callable[..., Any], running: Callable[..., Any], kit: SimpleNamespace) -> None:
    standin.set("plant_id", "quota")
    app = make_app()
    async with running(app) as client:
        first = (await client.post(kit.IDENTIFY, files=kit.upload(kit.photo(14)))).json()
        second = (await client.post(kit.IDENTIFY, files=kit.upload(kit.photo(15)))).json()
        snapshot = await app.resources.breakers["plant_id"].snapshot()
        health = (await client.get(kit.HEALTH)).json()

    assert first["engines"]["plant_id"]["status"] == "quota_exhausted" and first["degraded"] is True
    assert second["engines"]["plant_id"]["status"] in ("quota_exhausted", "circuit_open")
    assert standin.calls()["plant_id"] == 1
    assert snapshot.state == "open" and snapshot.forced and snapshot.opened_until is None  # until an operator (or the quota) says otherwise
    assert health["quota"]["plant_id"]["exhausted"] is True
    assert health["services"]["plant_id"]["circuit_state"] == "open"


async def test_plantnet_daily_quota_gone_is_skipped_until_the_reset(standin: Any, make_app: Callable[..., Any], running: Callable[..., Any], kit: SimpleNamespace) -> None:
    standin.set("plantnet", "ok", remaining=0)
    app = make_app()
    async with running(app) as client:
        first = (await client.post(kit.IDENTIFY, files=kit.upload(kit.photo(16)))).json()
        second = (await client.post(kit.IDENTIFY, files=kit.upload(kit.photo(17)))).json()
        snapshot = await app.resources.breakers["plantnet"].snapshot()

    assert first["engines"]["plantnet"]["status"] == "quota_exhausted"
    assert second["engines"]["plantnet"]["status"] == "quota_exhausted"
    assert standin.calls()["plantnet"] == 1
    assert snapshot.forced and snapshot.opened_until is not None and snapshot.opened_until > time.time()  # until 00:00 UTC


async def test_species_not_found_is_a_valid_empty_answer_not_a_failure(standin: Any, make_app: Callable[..., Any], running: Callable[..., Any], kit: SimpleNamespace) -> None:
    # Given a picture that is not a plant (the stand-in's Pl@ntNet answers 404 "Species not found")
    app = make_app(plantnet_fail_max=1)
    async with running(app) as client:
        body = (await client.post(kit.IDENTIFY, files=kit.upload(kit.uniform()))).json()
        snapshot = await app.resources.breakers["plantnet"].snapshot()

    assert body["engines"]["plantnet"]["status"] == "no_match"
    assert body["degraded"] is False
    assert snapshot.state == "closed" and snapshot.fail_count == 0


async def test_health_assessment_adds_disease_suggestions(standin: Any, make_app: Callable[..., Any], running: Callable[..., Any], kit: SimpleNamespace) -> None:
    async with running(make_app()) as client:
        body = (await client.post(kit.IDENTIFY, files=kit.upload(kit.photo(18)), data={"health": "true"})).json()

    assessment = body["health_assessment"]
    assert assessment["available"] is True
    assert isinstance(assessment["is_healthy"], bool)
    assert assessment["diseases"] and all(d["name"] and 0 <= d["probability"] <= 1 for d in assessment["diseases"])


async def test_several_images_of_one_plant_travel_with_their_organs(standin: Any, make_app: Callable[..., Any], running: Callable[..., Any], kit: SimpleNamespace) -> None:
    app = make_app()
    async with running(app) as client:
        sent = kit.capture(app.resources)
        response = await client.post(kit.IDENTIFY, files=kit.upload(kit.photo(19), kit.photo(20)), data={"organs": ["flower", "leaf"]})

    assert response.status_code == 200, response.text
    parts = sent.plantnet_parts()
    assert [value for name, value in parts if name == "organs"] == [b"flower", b"leaf"]
    assert len([name for name, _ in parts if name == "images"]) == 2
    assert len(sent.plant_id_images()) == 2


def _jpeg_with_gps(seed: int, size: tuple[int, int]) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    exif[0x010F] = "PhoneMaker"
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 29.5), 3: "E", 4: (2.0, 17.0, 40.2)}  # GPS IFD
    image = Image.open(io.BytesIO(_photo(seed, size)))
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes(), comment=b"owner: jane@example.org")
    return out.getvalue()


def _photo(seed: int, size: tuple[int, int]) -> bytes:
    from PIL import Image as PILImage

    noise = bytes((seed * 31 + i * 7) % 251 for i in range((size[0] // 8) * (size[1] // 8) * 3))
    small = PILImage.frombytes("RGB", (size[0] // 8, size[1] // 8), noise)
    out = io.BytesIO()
    small.resize(size).save(out, "JPEG")
    return out.getvalue()


async def test_exif_gps_and_every_other_metadata_is_stripped_before_any_engine_sees_the_image(
    standin: Any, make_app: Callable[..., Any], running: Callable[..., Any], kit: SimpleNamespace
) -> None:
    # Given a phone photo with GPS coordinates, a maker tag, a comment and an orientation flag
    original = _jpeg_with_gps(21, (800, 600))
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)
    app = make_app()
    async with running(app) as client:
        sent = kit.capture(app.resources)
        response = await client.post(kit.IDENTIFY, files=kit.upload(original))

    assert response.status_code == 200
    received = [*sent.plant_id_images(), *(value for name, value in sent.plantnet_parts() if name == "images")]
    assert len(received) == 2
    for data in received:
        image = Image.open(io.BytesIO(data))
        assert image.format == "JPEG"
        assert not image.getexif() and "exif" not in image.info and "icc_profile" not in image.info and "comment" not in image.info
        assert b"Exif" not in data and b"jane@example.org" not in data and b"PhoneMaker" not in data
        assert image.size == (600, 800)  # the orientation was applied to the pixels


async def test_large_photos_are_resized_to_what_each_engine_handles_best(standin: Any, make_app: Callable[..., Any], running: Callable[..., Any], kit: SimpleNamespace) -> None:
    app = make_app()
    async with running(app) as client:
        sent = kit.capture(app.resources)
        await client.post(kit.IDENTIFY, files=kit.upload(kit.photo(22, size=(3000, 2000))))

    (plant_id_image,) = sent.plant_id_images()
    (plantnet_image,) = [value for name, value in sent.plantnet_parts() if name == "images"]
    assert Image.open(io.BytesIO(plant_id_image)).size == (1500, 1000)
    assert Image.open(io.BytesIO(plantnet_image)).size == (1280, 853)


async def test_identical_concurrent_requests_call_each_engine_once(standin: Any, make_app: Callable[..., Any], running: Callable[..., Any], kit: SimpleNamespace) -> None:
    standin.set("plant_id", "ok", delay_s=0.3)
    image = kit.photo(23)
    async with running(make_app(anonymous_limit=100)) as client:
        responses = await asyncio.gather(*(client.post(kit.IDENTIFY, files=kit.upload(image)) for _ in range(20)))

    assert all(r.status_code == 200 for r in responses)
    assert standin.calls() == {"plant_id": 1, "plantnet": 1, "gbif": 0}
    assert sum(not r.json()["cached"] for r in responses) == 1


async def test_distinct_images_never_wait_for_each_other(standin: Any, make_app: Callable[..., Any], running: Callable[..., Any], kit: SimpleNamespace) -> None:
    # Given engines that hold every call for a few seconds
    standin.set("plant_id", "ok", delay_s=4)
    standin.set("plantnet", "ok", delay_s=4)
    async with running(make_app(anonymous_limit=100)) as client:
        pending = [asyncio.ensure_future(client.post(kit.IDENTIFY, files=kit.upload(kit.photo(100 + n)))) for n in range(10)]

        # When ten distinct photos arrive at once, then every engine call is in flight before any answer
        async with asyncio.timeout(30):  # a bound on a hang, not a speed requirement
            while min(standin.calls()[e] for e in ("plant_id", "plantnet")) < 10:
                await asyncio.sleep(0.05)
        in_flight = sum(not p.done() for p in pending)
        responses = await asyncio.gather(*pending)

    assert in_flight == 10
    assert all(r.status_code == 200 and not r.json()["cached"] for r in responses)


async def test_gbif_matches_enrich_the_suggestions(standin: Any, make_app: Callable[..., Any], running: Callable[..., Any], kit: SimpleNamespace) -> None:
    async with running(make_app(gbif_enabled=True, gbif_base_url=f"{standin.url}/v1")) as client:
        body = (await client.post(kit.IDENTIFY, files=kit.upload(kit.photo(24)))).json()

    assert body["enrichment"]["gbif"] == "ok"
    top = body["suggestions"][0]
    assert top["gbif"]["match_type"] == "EXACT" and top["gbif"]["canonical_name"] == top["scientific_name"]
    assert top["gbif"]["url"].startswith("https://www.gbif.org/species/")


async def test_gbif_down_costs_the_enrichment_not_the_answer(standin: Any, make_app: Callable[..., Any], running: Callable[..., Any], kit: SimpleNamespace) -> None:
    standin.set("gbif", "down")
    async with running(make_app(gbif_enabled=True, gbif_base_url=f"{standin.url}/v1")) as client:
        response = await client.post(kit.IDENTIFY, files=kit.upload(kit.photo(25)))

    body = response.json()
    assert response.status_code == 200
    assert body["enrichment"]["gbif"] == "unavailable"
    assert body["degraded"] is False and body["suggestions"][0]["gbif"] is None


async def test_the_cms_being_absent_is_tolerated_with_generic_care(
    standin: Any, make_app: Callable[..., Any], running: Callable[..., Any], kit: SimpleNamespace, dead_redis_url: str
) -> None:
    nowhere = dead_redis_url.replace("redis://", "http://").rsplit("/", 1)[0]  # a local port nobody listens on
    app = make_app(cms_internal_url=nowhere, auth_service_url=nowhere, service_client_id="identify-gateway",
                   service_client_secret="s" * 40)  # fmt: skip
    async with running(app) as client:
        response = await client.post(kit.IDENTIFY, files=kit.upload(kit.photo(26)))

    body = response.json()
    assert response.status_code == 200
    assert body["enrichment"]["cms"] == "unavailable"
    assert body["suggestions"][0]["species_page"] is None
    assert body["care_instructions"]["source"] in ("plant_id", "generic")


async def test_without_redis_the_gateway_still_answers_without_cache_and_lock(
    standin: Any, make_app: Callable[..., Any], running: Callable[..., Any], kit: SimpleNamespace, dead_redis_url: str
) -> None:
    image = kit.photo(27)
    async with running(make_app(redis_url=dead_redis_url)) as client:
        first = await client.post(kit.IDENTIFY, files=kit.upload(image))
        second = await client.post(kit.IDENTIFY, files=kit.upload(image))

    assert first.status_code == 200 and second.status_code == 200
    assert second.json()["cached"] is False  # no cache to hit
    assert standin.calls()["plant_id"] == 2


@pytest.mark.parametrize("engine", ["plant_id", "plantnet"])
async def test_engine_5xx_is_a_failure_counted_by_its_breaker(
    engine: str, standin: Any, make_app: Callable[..., Any], running: Callable[..., Any], kit: SimpleNamespace
) -> None:
    standin.set(engine, "fail", fail_status=502)
    app = make_app()
    async with running(app) as client:
        body = (await client.post(kit.IDENTIFY, files=kit.upload(kit.photo(28)))).json()
        snapshot = await app.resources.breakers[engine].snapshot()

    assert body["engines"][engine]["status"] == "failed"
    assert snapshot.fail_count == 1


async def test_when_plant_id_credits_return_its_breaker_closes_again(standin: Any, make_app: Callable[..., Any], running: Callable[..., Any], kit: SimpleNamespace) -> None:
    # Given Plant.id out of credits (breaker forced open, no end)
    standin.set("plant_id", "quota")
    app = make_app()
    async with running(app) as client:
        await client.post(kit.IDENTIFY, files=kit.upload(kit.photo(29)))
        # When the account is topped up and health reads the usage report (free of charge)
        standin.set("plant_id", "ok")
        await client.get(kit.HEALTH)
        for _ in range(50):
            if (await app.resources.breakers["plant_id"].snapshot()).state == "closed":
                break
            await asyncio.sleep(0.05)
        body = (await client.post(kit.IDENTIFY, files=kit.upload(kit.photo(30)))).json()

    # Then Plant.id is called again
    assert body["engines"]["plant_id"]["status"] == "ok"
    assert standin.state()["plant_id"]["free_calls"] >= 1  # /usage_info


async def test_the_pipeline_reports_progress_per_engine_for_the_worker(standin: Any, make_app: Callable[..., Any], running: Callable[..., Any], kit: SimpleNamespace) -> None:
    from identify_gateway.identify.params import IdentifyParams
    from identify_gateway.identify.pipeline import IdentifyInput
    from identify_gateway.identify.upload import ImageKind, RawImage

    standin.set("plantnet", "down")
    events: list[tuple[str, dict[str, Any]]] = []

    async def on_event(name: str, data: dict[str, Any]) -> None:
        events.append((name, data))

    app = make_app()
    async with running(app):
        raw = RawImage.from_bytes(kit.photo(31), accept=frozenset(ImageKind))
        outcome = await app.resources.pipeline.identify(
            IdentifyInput(request_id=uuid.uuid4(), images=(raw,), params=IdentifyParams()), on_event=on_event
        )

    assert outcome.how == "computed" and outcome.body["degraded"] is True
    assert sorted((name, data["engine"], data["status"]) for name, data in events) == [
        ("engine_failed", "plantnet", "failed"), ("engine_result", "plant_id", "ok"),
    ]


# The stack's CMS and this gateway's service client, read at import: each test sees only the
# scratch servers' GATEWAY_* variables (conftest), and these are not among them.
STACK_CMS = {
    setting: os.environ.get(name)
    for setting, name in (("cms_internal_url", "GATEWAY_CMS_INTERNAL_URL"), ("auth_service_url", "GATEWAY_AUTH_SERVICE_URL"),
                          ("service_client_id", "GATEWAY_SERVICE_CLIENT_ID"), ("service_client_secret", "GATEWAY_SERVICE_CLIENT_SECRET"))
}  # fmt: skip


def enrichments(outcome: str) -> float:
    return REGISTRY.get_sample_value("gateway_enrichment_total", {"source": "cms", "outcome": outcome}) or 0.0


async def test_species_pages_are_looked_up_once_while_remembered(standin: Any, make_app: Callable[..., Any], running: Callable[..., Any], kit: SimpleNamespace) -> None:
    # Given the stack's CMS and auth service (the gateway's own service client)
    if missing := [setting for setting, value in STACK_CMS.items() if not value]:
        pytest.skip(f"needs the stack's CMS: {', '.join(missing)}")
    app = make_app(**STACK_CMS)
    image = kit.photo(32)
    async with running(app) as client:
        first = (await client.post(kit.IDENTIFY, files=kit.upload(image))).json()
        looked_up, remembered = enrichments("ok"), enrichments("remembered")

        # When the same species comes back in another (uncached) identification
        second = (await client.post(kit.IDENTIFY, files=kit.upload(image), data={"language": "fr"})).json()

    # Then its pages come from memory: no second CMS round trip, the same pages in the answer
    assert first["enrichment"]["cms"] == "ok" and second["enrichment"]["cms"] == "ok"
    assert second["cached"] is False
    assert enrichments("ok") == looked_up and enrichments("remembered") == remembered + 1
    assert [s["species_page"] for s in second["suggestions"]] == [s["species_page"] for s in first["suggestions"]]
