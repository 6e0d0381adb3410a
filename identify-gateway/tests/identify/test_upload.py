"""Upload safety through the app: every bad image is refused with the envelope before any engine
sees it, and what is accepted reaches the engines as a clean, re-encoded JPEG."""

from __future__ import annotations

import io
import struct
import time
import zlib
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from PIL import Image


def png_bomb(width: int, height: int) -> bytes:
    """A tiny PNG (1-bit, all zeros, compressed) that claims `width` × `height` pixels."""
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def gif() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (0, 128, 0)).save(out, "GIF")
    return out.getvalue()


SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><script>alert(1)</script></svg>'


@pytest.fixture
async def gateway(standin: Any, make_app: Callable[..., Any], running: Callable[..., Any]) -> Any:
    app = make_app(anonymous_limit=1000)
    async with running(app) as client:
        client.app = app
        yield client


@pytest.mark.parametrize(
    ("name", "make", "status", "code"),
    [
        ("empty", lambda kit: b"", 400, "image_empty"),
        ("text named .jpg", lambda kit: b"just some text, not a picture at all\n" * 10, 415, "unsupported_image_type"),
        ("truncated JPEG", lambda kit: kit.photo(40)[:2000], 422, "image_invalid"),
        ("GIF", lambda kit: gif(), 415, "unsupported_image_type"),
        ("SVG", lambda kit: SVG, 415, "unsupported_image_type"),
        ("HTML with a JPEG name", lambda kit: b"<html><body>hi</body></html>", 415, "unsupported_image_type"),
        ("JPEG header only", lambda kit: b"\xff\xd8\xff\xe0" + b"\x00" * 64, 422, "image_invalid"),
    ],
)
async def test_bad_images_are_refused_with_the_envelope_and_no_engine_call(
    gateway: Any, standin: Any, kit: SimpleNamespace, name: str, make: Callable[[SimpleNamespace], bytes], status: int, code: str
) -> None:
    response = await gateway.post(kit.IDENTIFY, files=kit.upload(make(kit), name="photo.jpg"))

    assert response.status_code == status, (name, response.text)
    body = response.json()
    assert set(body) == {"detail", "code"} and body["code"] == code and body["detail"].endswith(".")
    assert standin.calls() == {"plant_id": 0, "plantnet": 0, "gbif": 0}


async def test_a_decompression_bomb_is_refused_from_its_header_quickly(gateway: Any, standin: Any, kit: SimpleNamespace) -> None:
    bomb = png_bomb(14_000, 14_000)
    assert len(bomb) < 700_000

    started = time.perf_counter()
    response = await gateway.post(kit.IDENTIFY, files=kit.upload(bomb, name="bomb.png", content_type="image/png"))

    assert response.status_code == 413
    assert response.json()["code"] == "image_too_large" and "196.0 MP" in response.json()["detail"]
    assert time.perf_counter() - started < 1.0
    assert standin.calls()["plant_id"] == 0


async def test_an_image_just_over_the_pixel_cap_is_refused(standin: Any, make_app: Callable[..., Any], running: Callable[..., Any], kit: SimpleNamespace) -> None:
    async with running(make_app(max_image_pixels=1_000_000)) as client:
        response = await client.post(kit.IDENTIFY, files=kit.upload(png_bomb(1001, 1000), name="x.png"))

    assert response.status_code == 413 and response.json()["code"] == "image_too_large"


async def test_a_polyglot_is_re_encoded_so_nothing_after_the_image_reaches_an_engine(gateway: Any, kit: SimpleNamespace) -> None:
    polyglot = kit.photo(41) + b"<html><script>alert('x')</script></html>" + b"PK\x03\x04" + b"\x00" * 26 + b"evil.txt"
    sent = kit.capture(gateway.app.resources)

    response = await gateway.post(kit.IDENTIFY, files=kit.upload(polyglot))

    assert response.status_code == 200
    images = [*sent.plant_id_images(), *(v for n, v in sent.plantnet_parts() if n == "images")]
    assert images
    for data in images:
        assert b"<html" not in data and b"PK\x03\x04" not in data and b"evil.txt" not in data
        assert data.endswith(b"\xff\xd9")  # ends where the JPEG ends


async def test_a_body_over_the_byte_cap_is_413(gateway: Any, standin: Any, kit: SimpleNamespace) -> None:
    too_big = kit.photo(42) + b"\x00" * (10 * 1024 * 1024)

    response = await gateway.post(kit.IDENTIFY, files=kit.upload(too_big))

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert standin.calls()["plant_id"] == 0


async def test_the_byte_cap_is_enforced_while_streaming_without_content_length(standin: Any, make_app: Callable[..., Any], running: Callable[..., Any], kit: SimpleNamespace) -> None:
    async def chunks() -> Any:
        yield b"--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
        yield kit.photo(43)
        for _ in range(64):
            yield b"\x00" * 4096  # 256 KB more than any cap below

    async with running(make_app(max_upload_bytes=128 * 1024)) as client:
        response = await client.post(kit.IDENTIFY, content=chunks(), headers={"Content-Type": "multipart/form-data; boundary=b"})

    assert response.status_code == 413


@pytest.mark.parametrize(
    ("fmt", "save"),
    [("PNG", {}), ("PNG", {"alpha": True}), ("WEBP", {}), ("HEIF", {})],
)
async def test_png_webp_and_heic_are_accepted_and_sent_as_jpeg(gateway: Any, kit: SimpleNamespace, fmt: str, save: dict[str, Any]) -> None:
    if fmt == "HEIF":
        from pillow_heif import register_heif_opener

        register_heif_opener()
    sent = kit.capture(gateway.app.resources)

    response = await gateway.post(kit.IDENTIFY, files=kit.upload(kit.photo(44, fmt=fmt, **save), name="photo.bin", content_type="application/octet-stream"))

    assert response.status_code == 200, response.text
    (received,) = sent.plant_id_images()
    assert Image.open(io.BytesIO(received)).format == "JPEG"


async def test_missing_image_is_422(gateway: Any, kit: SimpleNamespace) -> None:
    response = await gateway.post(kit.IDENTIFY, data={"language": "en"}, files=[("other", ("x.txt", b"hello", "text/plain"))])

    assert response.status_code == 422 and response.json()["code"] == "image_missing"


async def test_more_than_five_images_is_422(gateway: Any, kit: SimpleNamespace) -> None:
    response = await gateway.post(kit.IDENTIFY, files=kit.upload(*(kit.photo(50 + n) for n in range(6))))

    assert response.status_code == 422 and response.json()["code"] == "too_many_images"


async def test_a_body_that_is_not_multipart_is_415(gateway: Any, kit: SimpleNamespace) -> None:
    response = await gateway.post(kit.IDENTIFY, json={"image": "aGVsbG8="})

    assert response.status_code == 415 and response.json()["code"] == "unsupported_media_type"


async def test_a_truncated_multipart_body_is_400(gateway: Any, kit: SimpleNamespace) -> None:
    body = b"--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.jpg\"\r\n\r\n" + kit.photo(45)
    response = await gateway.post(kit.IDENTIFY, content=body, headers={"Content-Type": "multipart/form-data; boundary=b"})

    assert response.status_code == 400 and response.json()["code"] == "invalid_multipart"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"latitude": "48.8"}, "latitude"),
        ({"latitude": "91", "longitude": "2"}, "latitude"),
        ({"latitude": "nan", "longitude": "2"}, "latitude"),
        ({"language": "english"}, "language"),
        ({"health": "maybe"}, "health"),
        ({"organs": ["leaf", "flower"]}, "organs"),
        ({"organs": "stem"}, "organs"),
    ],
)
async def test_invalid_parameters_are_422_naming_the_field(gateway: Any, kit: SimpleNamespace, data: dict[str, Any], field: str) -> None:
    response = await gateway.post(kit.IDENTIFY, files=kit.upload(kit.photo(46)), data=data)

    assert response.status_code == 422
    assert response.json()["code"] == "validation_error" and field in response.json()["detail"]
