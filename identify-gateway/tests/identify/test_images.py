"""`normalise` on its own (no servers): reduced-scale JPEG decoding, shrinking before rotating, one
encoding per distinct size, small upright JPEGs sent as uploaded minus their metadata, and every
colour mode sent as a metadata-free RGB JPEG."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageChops

from identify_gateway.identify.errors import UploadRejected
from identify_gateway.identify.images import DRAFT_SLACK, configure_pillow, normalise
from identify_gateway.identify.jpeg_strip import strip_metadata
from identify_gateway.identify.upload import ImageKind, RawImage

MAX_PIXELS = 40_000_000
ENGINE_SIDES = (1500, 1280)  # Plant.id, Pl@ntNet (the settings' defaults)


@pytest.fixture(autouse=True)
def _pillow() -> None:
    configure_pillow(max_pixels=MAX_PIXELS, heic=False)


def raw(data: bytes) -> RawImage:
    return RawImage.from_bytes(data, accept=frozenset(ImageKind))


def encoded(image: Image.Image, fmt: str = "JPEG", **save: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()


def marked(size: tuple[int, int]) -> Image.Image:
    """Grey, with a red block in the top-left corner (to see where a rotation puts it)."""
    image = Image.new("RGB", size, (128, 128, 128))
    image.paste((255, 0, 0), (0, 0, size[0] // 5, size[1] // 5))
    return image


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG" and image.mode == "RGB"
    return image


def test_a_large_jpeg_is_decoded_at_half_scale_when_that_nearly_fills_the_largest_size() -> None:
    # 2950 px halves to 1475 px: within DRAFT_SLACK of Plant.id's 1500, so no full-size decode
    out = normalise(raw(encoded(marked((2950, 1967)))), long_sides=ENGINE_SIDES, max_pixels=MAX_PIXELS)

    assert opened(out[1500]).size == (1475, 984)
    assert DRAFT_SLACK * 1500 <= 1475 <= 1500
    assert opened(out[1280]).size == (1280, 854)


def test_a_jpeg_that_halves_exactly_keeps_the_engine_size() -> None:
    out = normalise(raw(encoded(marked((3000, 2000)))), long_sides=ENGINE_SIDES, max_pixels=MAX_PIXELS)

    assert opened(out[1500]).size == (1500, 1000)
    assert opened(out[1280]).size == (1280, 853)


def test_orientation_is_applied_to_the_shrunk_pixels_and_no_metadata_survives() -> None:
    # A phone photo stored landscape with "rotate 90° clockwise to view" (orientation 6), GPS and a comment
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 29.5), 3: "E", 4: (2.0, 17.0, 40.2)}
    upload = encoded(marked((3000, 2000)), exif=exif.tobytes(), comment=b"owner: jane@example.org")

    out = normalise(raw(upload), long_sides=ENGINE_SIDES, max_pixels=MAX_PIXELS)

    for side, size in ((1500, (1000, 1500)), (1280, (853, 1280))):
        image = opened(out[side])
        assert image.size == size  # upright: portrait
        assert image.getpixel((size[0] - 10, 10))[0] > 200  # the red corner moved to the top right
        assert image.getpixel((10, 10))[0] < 160
        assert not image.getexif() and "comment" not in image.info and b"jane@example.org" not in out[side]


def test_sizes_that_come_out_the_same_share_one_encoding() -> None:
    out = normalise(raw(encoded(marked((640, 480)), "PNG")), long_sides=ENGINE_SIDES, max_pixels=MAX_PIXELS)

    assert out[1500] is out[1280]  # never enlarged: both are the photo's own size, encoded once
    assert opened(out[1500]).size == (640, 480)


def gps_exif(orientation: int = 1) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "PhoneMaker"
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 29.5), 3: "E", 4: (2.0, 17.0, 40.2)}
    return exif.tobytes()


@pytest.mark.parametrize("progressive", [False, True])
def test_an_upright_jpeg_within_every_size_keeps_its_pixels_and_loses_all_metadata(progressive: bool) -> None:
    # A phone photo already small enough, with GPS, an ICC profile, a comment, and a zip after its end
    original = encoded(marked((1200, 900)), exif=gps_exif(), icc_profile=b"\0" * 128, comment=b"owner: jane@example.org", progressive=progressive)
    upload = original + b"PK\x03\x04" + b"\x00" * 26 + b"evil.txt"

    out = normalise(raw(upload), long_sides=ENGINE_SIDES, max_pixels=MAX_PIXELS)

    assert out[1500] is out[1280]
    sent = out[1500]
    image = opened(sent)
    assert not image.getexif() and {"icc_profile", "comment", "exif", "jfif"}.isdisjoint(image.info)
    assert b"Exif" not in sent and b"PhoneMaker" not in sent and b"jane@example.org" not in sent and b"evil.txt" not in sent
    assert sent.endswith(b"\xff\xd9") and len(sent) < len(original)
    assert ImageChops.difference(image, Image.open(io.BytesIO(original)).convert("RGB")).getbbox() is None  # not re-encoded


def test_a_jpeg_cut_short_is_refused_even_when_it_needs_no_resizing() -> None:
    upload = encoded(marked((1200, 900)), quality=95)[:-5000]
    assert strip_metadata(upload) is None

    with pytest.raises(UploadRejected) as refused:
        normalise(raw(upload), long_sides=ENGINE_SIDES, max_pixels=MAX_PIXELS)

    assert refused.value.status == 422 and refused.value.code == "image_invalid"


def test_metadata_segments_are_dropped_and_the_frame_kept_byte_for_byte() -> None:
    original = encoded(marked((64, 48)), exif=gps_exif(), comment=b"hello")
    stripped = strip_metadata(original)

    assert stripped is not None
    markers = [stripped[i + 1] for i in range(len(stripped) - 1) if stripped[i] == 0xFF and stripped[i + 1] not in (0x00, 0xFF)]
    assert not [m for m in markers if 0xE0 <= m <= 0xEF or m == 0xFE]  # no APPn, no COM
    assert stripped[stripped.index(b"\xff\xdb"):] in original  # tables, frame and scan untouched


@pytest.mark.parametrize(
    ("mode", "fmt"),
    [("L", "JPEG"), ("CMYK", "JPEG"), ("RGBA", "PNG"), ("P", "PNG"), ("I;16", "PNG"), ("LA", "WEBP")],
)
def test_every_colour_mode_is_sent_as_an_rgb_jpeg(mode: str, fmt: str) -> None:
    picture = marked((2400, 1600))
    if mode == "P":
        picture = picture.quantize(16)
    elif mode == "I;16":
        picture = picture.convert("L").convert("I").point(lambda v: v * 256).convert("I;16")
    else:
        picture = picture.convert(mode)
    upload = encoded(picture, fmt)

    out = normalise(raw(upload), long_sides=ENGINE_SIDES, max_pixels=MAX_PIXELS)

    assert opened(out[1500]).size == (1500, 1000)
    assert opened(out[1280]).size == (1280, 853)
