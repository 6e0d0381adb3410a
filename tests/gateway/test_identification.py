"""Identification through the real Traefik edge, with the real auth service's tokens, the gateway's
Redis and PostgreSQL, and the provider stand-in behind it."""

from __future__ import annotations

import re
import struct
import time
import zlib
from collections.abc import Callable
from typing import Any

import httpx
import pytest

IDENTIFY = "/api/v1/plant-identification/identify/"
HEALTH = "/api/v1/plant-identification/identify/health/"
HISTORY = "/api/v1/plant-identification/history/"
AUTH_REQUIRED = "Authentication required for plant identification. Please log in or create an account to identify plants."
SERVICE_UNAVAILABLE = "Plant.id service is temporarily unavailable. Please try again in a few moments."
THROTTLED = re.compile(r"Request was throttled\. Expected available in (\d+) seconds\.")


def png_bomb(width: int, height: int) -> bytes:
    row = b"\x00" * (1 + (width + 7) // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def test_a_member_identifies_a_photo_and_finds_it_in_the_history(
    edge: httpx.Client, standin: Any, member: dict[str, str], new_photo: Callable[..., bytes], files: Callable[..., Any]
) -> None:
    response = edge.post(IDENTIFY, files=files(new_photo()), headers=member)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True and body["cached"] is False and body["degraded"] is False
    assert body["plant_name"] and body["scientific_name"] and 0 < body["confidence"] <= 1
    assert {s["engine"] for s in body["suggestions"][0]["sources"]} == {"plant_id", "plantnet"}
    assert body["engines"]["plant_id"]["source"] == "standin" and body["notice"]
    assert body["care_instructions"]["source"] in ("cms", "plant_id", "generic")
    assert response.headers["X-Request-ID"]
    assert int(response.headers["RateLimit-Limit"]) >= 100 and "RateLimit-Remaining" in response.headers

    item = edge.get(f"{HISTORY}{body['request_id']}/", headers=member)
    listing = edge.get(HISTORY, headers=member).json()

    assert item.status_code == 200 and item.json()["result"] == body
    assert listing["results"][0]["id"] == body["request_id"]


def test_the_same_photo_again_is_a_cache_hit_with_no_engine_call(
    edge: httpx.Client, standin: Any, member: dict[str, str], new_photo: Callable[..., bytes], files: Callable[..., Any]
) -> None:
    image = new_photo()
    edge.post(IDENTIFY, files=files(image), headers=member).raise_for_status()
    calls = standin.calls()

    response = edge.post(IDENTIFY, files=files(image, name="again.jpg"), headers=member)

    assert response.status_code == 200 and response.json()["cached"] is True
    assert standin.calls() == calls


def test_another_users_identification_is_not_found(
    edge: httpx.Client, standin: Any, member: dict[str, str], editor: dict[str, str], new_photo: Callable[..., bytes], files: Callable[..., Any]
) -> None:
    request_id = edge.post(IDENTIFY, files=files(new_photo()), headers=member).json()["request_id"]

    assert edge.get(f"{HISTORY}{request_id}/", headers=editor).status_code == 404
    assert edge.delete(f"{HISTORY}{request_id}/", headers=editor).status_code == 404
    assert edge.get(f"{HISTORY}{request_id}/", headers=member).status_code == 200


def test_without_a_token_the_answer_follows_the_auth_mode(
    edge: httpx.Client, standin: Any, clear_anonymous_limit: None, new_photo: Callable[..., bytes], files: Callable[..., Any]
) -> None:
    requires_auth = edge.get(HEALTH).json()["authentication"]["requires_auth"]

    response = edge.post(IDENTIFY, files=files(new_photo()))

    if requires_auth:
        assert response.status_code == 401
        assert response.json() == {"detail": AUTH_REQUIRED, "code": "not_authenticated"}
    else:
        assert response.status_code == 200 and response.headers["RateLimit-Limit"] == "10"


def test_anonymous_callers_past_their_limit_get_the_seed_429(
    edge: httpx.Client, standin: Any, clear_anonymous_limit: None, new_photo: Callable[..., bytes], files: Callable[..., Any]
) -> None:
    if edge.get(HEALTH).json()["authentication"]["requires_auth"]:
        pytest.skip("this stack requires a token (GATEWAY_ANONYMOUS_ALLOWED is off)")
    image = new_photo()
    statuses = [edge.post(IDENTIFY, files=files(image)).status_code for _ in range(10)]

    refused = edge.post(IDENTIFY, files=files(image))

    assert statuses == [200] * 10
    assert refused.status_code == 429
    match = THROTTLED.fullmatch(refused.json()["detail"])
    assert match and refused.headers["Retry-After"] == match.group(1)
    assert refused.headers["RateLimit-Limit"] == "10" and refused.headers["RateLimit-Remaining"] == "0"


def test_an_invalid_token_is_401(edge: httpx.Client, new_photo: Callable[..., bytes], files: Callable[..., Any]) -> None:
    response = edge.post(IDENTIFY, files=files(new_photo()), headers={"Authorization": "Bearer not.a.token"})

    assert response.status_code == 401
    assert response.json()["code"] == "token_invalid"


@pytest.mark.parametrize(
    ("name", "data", "status"),
    [
        ("empty", b"", 400),
        ("text named .jpg", b"this is not a picture\n" * 20, 415),
        ("GIF", b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;", 415),
        ("SVG", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', 415),
        ("decompression bomb", png_bomb(14_000, 14_000), 413),
        ("too large", b"\xff\xd8\xff\xe0" + b"\x00" * (10 * 1024 * 1024 + 1024), 413),
    ],
)
def test_bad_images_are_refused_through_the_edge_without_engine_calls(
    edge: httpx.Client, standin: Any, member: dict[str, str], files: Callable[..., Any], name: str, data: bytes, status: int
) -> None:
    response = edge.post(IDENTIFY, files=files(data), headers=member)

    assert response.status_code == status, (name, response.text[:200])
    assert set(response.json()) == {"detail", "code"}
    assert standin.calls()["plant_id"] == 0


def test_a_truncated_jpeg_is_422(edge: httpx.Client, standin: Any, member: dict[str, str], new_photo: Callable[..., bytes], files: Callable[..., Any]) -> None:
    response = edge.post(IDENTIFY, files=files(new_photo()[:3000]), headers=member)

    assert response.status_code == 422 and response.json()["code"] == "image_invalid"


def test_a_polyglot_is_accepted_as_the_image_it_starts_with(
    edge: httpx.Client, standin: Any, member: dict[str, str], new_photo: Callable[..., bytes], files: Callable[..., Any]
) -> None:
    polyglot = new_photo() + b"<html><script>alert(1)</script></html>PK\x03\x04" + b"\x00" * 30

    response = edge.post(IDENTIFY, files=files(polyglot), headers=member)

    assert response.status_code == 200  # re-encoded: the engines get the picture, nothing after it


def test_one_engine_down_answers_from_the_other_degraded(
    edge: httpx.Client, standin: Any, member: dict[str, str], new_photo: Callable[..., bytes], files: Callable[..., Any]
) -> None:
    standin.set("plantnet", "down")

    response = edge.post(IDENTIFY, files=files(new_photo()), headers=member)

    body = response.json()
    assert response.status_code == 200
    assert body["degraded"] is True and body["engines"]["plantnet"]["status"] == "failed"
    assert body["engines"]["plant_id"]["status"] == "ok"


def test_a_slow_engine_is_cut_off_and_the_other_answers(
    edge: httpx.Client, standin: Any, member: dict[str, str], new_photo: Callable[..., bytes], files: Callable[..., Any]
) -> None:
    standin.set("plant_id", "hang", hang_s=60)

    started = time.perf_counter()
    response = edge.post(IDENTIFY, files=files(new_photo()), headers=member, timeout=30)

    body = response.json()
    assert response.status_code == 200
    assert body["engines"]["plant_id"]["status"] == "timeout" and body["degraded"] is True
    assert time.perf_counter() - started < 15


def test_all_engines_down_is_503_with_the_seed_sentence_and_retry_after(
    edge: httpx.Client, standin: Any, member: dict[str, str], new_photo: Callable[..., bytes], files: Callable[..., Any]
) -> None:
    standin.set("plant_id", "fail")
    standin.set("plantnet", "fail")

    response = edge.post(IDENTIFY, files=files(new_photo()), headers=member)

    assert response.status_code == 503
    assert response.json() == {"detail": SERVICE_UNAVAILABLE, "code": "service_unavailable"}
    assert int(response.headers["Retry-After"]) >= 1


def test_out_of_credits_opens_the_plant_id_breaker_and_health_says_so(
    edge: httpx.Client, standin: Any, member: dict[str, str], new_photo: Callable[..., bytes], files: Callable[..., Any]
) -> None:
    standin.set("plant_id", "quota")

    first = edge.post(IDENTIFY, files=files(new_photo()), headers=member).json()
    second = edge.post(IDENTIFY, files=files(new_photo()), headers=member).json()
    health = edge.get(HEALTH)

    assert first["engines"]["plant_id"]["status"] == "quota_exhausted"
    assert second["engines"]["plant_id"]["status"] in ("quota_exhausted", "circuit_open")
    assert standin.calls()["plant_id"] == 1
    assert health.status_code == 503
    assert health.json()["services"]["plant_id"]["circuit_state"] == "open"
    assert health.json()["quota"]["plant_id"]["exhausted"] is True


def test_health_reports_quota_and_optional_sources(edge: httpx.Client, standin: Any, member: dict[str, str], new_photo: Callable[..., bytes], files: Callable[..., Any]) -> None:
    edge.post(IDENTIFY, files=files(new_photo()), headers=member).raise_for_status()

    response = edge.get(HEALTH)

    body = response.json()
    assert response.status_code == 200, body
    assert body["quota"]["plantnet"]["remaining"] is not None
    assert body["services"]["trefle"]["available"] is False and body["services"]["trefle"]["enabled"] is False
    assert set(body["services"]) >= {"plant_id", "plantnet", "redis", "gbif", "cms", "trefle"}


def test_the_openapi_document_lists_the_identification_endpoints(edge: httpx.Client) -> None:
    spec = edge.get("/api/v1/plant-identification/openapi.json").json()

    assert {IDENTIFY, HEALTH, HISTORY, f"{HISTORY}{{identification_id}}/"} <= set(spec["paths"])


def test_answers_are_enriched_by_gbif_and_the_cms_species_pages(
    edge: httpx.Client, standin: Any, member: dict[str, str], new_photo: Callable[..., bytes], files: Callable[..., Any]
) -> None:
    body = edge.post(IDENTIFY, files=files(new_photo()), headers=member).json()

    assert body["enrichment"] == {"gbif": "ok", "cms": "ok"}, body["enrichment"]
    top = body["suggestions"][0]
    assert top["gbif"]["canonical_name"] == top["scientific_name"]
    if top["species_page"] is not None:  # the species has a published page in this stack's CMS
        assert body["care_instructions"]["source"] == "cms" and body["care_instructions"]["species_page_url"]
