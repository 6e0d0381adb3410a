"""Pillow work on uploads: the pixel cap from the header, then (on a cache miss only) one decode,
EXIF orientation applied, every piece of metadata dropped, and a fresh JPEG per engine size.

Decoding runs in worker threads under a small capacity limiter, so the event loop never blocks and
a burst of large photos cannot decode all at once.
"""

from __future__ import annotations

import io
import math
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import anyio
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError
from prometheus_client import Counter

from identify_gateway.identify.errors import UploadRejected
from identify_gateway.identify.upload import ImageKind, RawImage

JPEG_QUALITY = 90
_PIL_FORMATS = {ImageKind.JPEG: "JPEG", ImageKind.PNG: "PNG", ImageKind.WEBP: "WEBP", ImageKind.HEIC: "HEIF"}
_DECODE_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, Image.DecompressionBombError)

DECODES = Counter("gateway_image_decodes_total", "Uploaded images fully decoded (cache misses only), by outcome.", ["outcome"])

_heif_registered = False


def configure_pillow(*, max_pixels: int, heic: bool) -> None:
    """Process-wide Pillow settings, applied at start-up (API lifespan, worker boot).

    `MAX_IMAGE_PIXELS` makes Pillow itself warn above the cap (and refuse above twice it); the
    warning is turned into an error around every open. Truncated images are never loaded.
    """
    global _heif_registered
    Image.MAX_IMAGE_PIXELS = max_pixels
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    if heic and not _heif_registered:
        from pillow_heif import register_heif_opener

        register_heif_opener()
        _heif_registered = True


@dataclass(frozen=True)
class ImageHeader:
    width: int
    height: int

    @property
    def pixels(self) -> int:
        return self.width * self.height


def _too_many_pixels(pixels: int, max_pixels: int) -> UploadRejected:
    size = f"{pixels / 1e6:.1f} MP; " if pixels else ""
    return UploadRejected(413, "image_too_large", f"The image has too many pixels ({size}at most {max_pixels / 1e6:.0f} MP).")


def _unreadable() -> UploadRejected:
    return UploadRejected(422, "image_invalid", "The image could not be read; it may be truncated or corrupt.")


def _open(raw: RawImage, max_pixels: int) -> Image.Image:
    """Open lazily (header only) with exactly the sniffed format's decoder, and check the pixel cap."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(raw.data), formats=[_PIL_FORMATS[raw.kind]])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as bomb:
        raise _too_many_pixels(_pixels_from(bomb), max_pixels) from None
    except _DECODE_ERRORS:
        raise _unreadable() from None
    width, height = image.size
    if width < 1 or height < 1:
        image.close()
        raise _unreadable()
    if width * height > max_pixels:  # also when MAX_IMAGE_PIXELS was changed by someone else
        image.close()
        raise _too_many_pixels(width * height, max_pixels)
    return image


def _pixels_from(error: Exception) -> int:
    """Pillow's bomb messages start "Image size (N pixels)"; 0 when the text is not that."""
    match = re.match(r"Image size \((\d+) pixels\)", str(error))
    return int(match.group(1)) if match else 0


def inspect_header(raw: RawImage, *, max_pixels: int) -> ImageHeader:
    """Width and height from the header, refused above `max_pixels`; no pixel data is decoded.

    Raises:
        UploadRejected: 413 `image_too_large` (a decompression bomb included), 422 `image_invalid`.
    """
    with _open(raw, max_pixels) as image:
        return ImageHeader(*image.size)


def _draft_size(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    scale = min(1.0, long_side / max(size))
    return max(1, math.ceil(size[0] * scale)), max(1, math.ceil(size[1] * scale))


def _fit(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    scale = long_side / max(size)
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        return image.point(lambda v: v / 256).convert("L").convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")


def _encode(image: Image.Image, quality: int = JPEG_QUALITY) -> bytes:
    out = io.BytesIO()
    image.info = {}  # comment, xmp, icc_profile, exif, dpi...: nothing of the upload survives
    image.save(out, "JPEG", quality=quality, exif=b"")
    return out.getvalue()


def normalise(raw: RawImage, *, long_sides: Iterable[int], max_pixels: int, quality: int = JPEG_QUALITY) -> dict[int, bytes]:
    """Decode once and re-encode a clean JPEG for each requested long side (blocking: run in a thread).

    Orientation from EXIF is applied to the pixels; EXIF (GPS included), ICC, XMP and comments are
    dropped; bytes after the image's end (polyglots) never reach the output. Images are only
    shrunk, never enlarged.

    Returns:
        {long side: JPEG bytes}.

    Raises:
        UploadRejected: 413 `image_too_large`, 422 `image_invalid`.
    """
    sides = sorted(set(long_sides), reverse=True)
    try:
        with _open(raw, max_pixels) as probe:
            probe.verify()  # structure and checksums (PNG CRCs), without decoding pixels
        with _open(raw, max_pixels) as image:
            if image.format == "JPEG":
                image.draft("RGB", _draft_size(image.size, sides[0]))  # DCT scaling: decode at a fraction of the size
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                image.load()
            try:
                oriented = ImageOps.exif_transpose(image)
            except _DECODE_ERRORS:  # a malformed EXIF block: keep the pixels as stored
                oriented = image
            rgb = _to_rgb(oriented)
            outputs: dict[int, bytes] = {}
            current = rgb
            for side in sides:
                if max(current.size) > side:
                    current = current.resize(_fit(current.size, side), Image.Resampling.LANCZOS, reducing_gap=3.0)
                outputs[side] = _encode(current.copy() if current is image else current, quality)
    except UploadRejected:
        DECODES.labels("rejected").inc()
        raise
    except _DECODE_ERRORS:
        DECODES.labels("rejected").inc()
        raise _unreadable() from None
    DECODES.labels("ok").inc()
    return outputs


async def normalise_all(
    images: Sequence[RawImage], *, long_sides: Iterable[int], max_pixels: int, limiter: anyio.CapacityLimiter | None = None,
    quality: int = JPEG_QUALITY,
) -> list[dict[int, bytes]]:
    """`normalise` every image in worker threads (at most `limiter`'s tokens at a time)."""
    sides = tuple(long_sides)
    results: list[dict[int, bytes]] = []
    for raw in images:  # one after the other: a request's images share the memory budget of one
        results.append(
            await anyio.to_thread.run_sync(lambda raw=raw: normalise(raw, long_sides=sides, max_pixels=max_pixels, quality=quality), limiter=limiter)
        )
    return results
