"""`POST …/identify/` with every engine's breaker open: refused from the shared breaker state before
the upload is read (no multipart parsing, hashing or decoding), with the seed's 503 sentence and
`Retry-After`. Real Redis and stand-in; the breakers are tripped by real engine failures."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from prometheus_client import REGISTRY

SERVICE_UNAVAILABLE = "Plant.id service is temporarily unavailable. Please try again in a few moments."
NOT_AN_IMAGE = ("plant.jpg", b"this is text, not a JPEG", "image/jpeg")


def upload_rejections() -> float:
    return REGISTRY.get_sample_value("gateway_upload_rejections_total", {"code": "unsupported_image_type"}) or 0.0


async def test_with_every_breaker_open_the_503_comes_before_the_upload_is_read(
    standin: Any, make_app: Callable[..., Any], running: Callable[..., Any], kit: SimpleNamespace
) -> None:
    standin.set("plant_id", "down")
    standin.set("plantnet", "down")
    async with running(make_app(plant_id_fail_max=1, plantnet_fail_max=1, breaker_reset_timeout_s=30)) as client:
        tripping = await client.post(kit.IDENTIFY, files=kit.upload(kit.photo(21)))
        calls, rejections = standin.calls(), upload_rejections()

        # A body the upload reader would refuse (415): the answer shows it was never read.
        response = await client.post(kit.IDENTIFY, files={"image": NOT_AN_IMAGE})

    assert tripping.status_code == 503
    assert response.status_code == 503, response.text
    assert response.json() == {"detail": SERVICE_UNAVAILABLE, "code": "service_unavailable"}
    assert 1 <= int(response.headers["Retry-After"]) <= 30
    assert standin.calls() == calls and upload_rejections() == rejections


async def test_with_one_engine_still_closed_the_upload_is_read_and_judged(
    standin: Any, make_app: Callable[..., Any], running: Callable[..., Any], kit: SimpleNamespace
) -> None:
    standin.set("plantnet", "down")
    async with running(make_app(plantnet_fail_max=1, breaker_reset_timeout_s=30)) as client:
        degraded = await client.post(kit.IDENTIFY, files=kit.upload(kit.photo(22)))
        response = await client.post(kit.IDENTIFY, files={"image": NOT_AN_IMAGE})

    assert degraded.status_code == 200 and degraded.json()["engines"]["plantnet"]["status"] in ("failed", "circuit_open")
    assert response.status_code == 415 and response.json()["code"] == "unsupported_image_type"
