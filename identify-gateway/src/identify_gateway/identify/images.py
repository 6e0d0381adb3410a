"""Pillow work on uploads: the pixel cap from the header, then (on a cache miss only) one decode,
EXIF orientation applied, every piece of metadata dropped, and a fresh JPEG per engine size (or,
for an upright JPEG already small enough, the upload's own JPEG data without its metadata).

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
from PIL import ExifTags, Image, ImageFile, UnidentifiedImageError
from prometheus_client import Counter

from identify_gateway.identify.errors import UploadRejected
from identify_gateway.identify.jpeg_strip import strip_metadata
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


# JPEG's DCT scaling only divides by 2, 4 or 8: accepting a long side down to 90% of the engine's
# lets e.g. a 2950 px photo decode at half scale (1475 px: a quarter of the memory and time) for an
# imperceptible loss, instead of decoding it whole to shrink it by 2% afterwards.
DRAFT_SLACK = 0.9

# EXIF orientation -> the transposition that puts the pixels upright (as ImageOps.exif_transpose).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90,
}  # fmt: skip


def _draft_size(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    scale = min(1.0, long_side / max(size))
    return max(1, math.ceil(size[0] * scale)), max(1, math.ceil(size[1] * scale))


def _fit(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    """`size` shrunk (never enlarged) to `long_side`; the long side is the same after any rotation."""
    scale = min(1.0, long_side / max(size))
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


def _upright(image: Image.Image) -> Image.Transpose | None:
    """The transposition the EXIF orientation asks for (None: upright, or a malformed EXIF block)."""
    try:
        return _UPRIGHT.get(image.getexif().get(ExifTags.Base.Orientation, 1))
    except _DECODE_ERRORS:  # a malformed EXIF block: keep the pixels as stored
        return None


def _encode(image: Image.Image, quality: int = JPEG_QUALITY) -> bytes:
    out = io.BytesIO()
    image.info = {}  # comment, xmp, icc_profile, exif, dpi...: nothing of the upload survives
    image.save(out, "JPEG", quality=quality, exif=b"")
    return out.getvalue()


def _decode(image: Image.Image, long_side: int) -> Image.Image:
    """The pixels as RGB, JPEGs decoded directly at the smallest DCT scale that still serves `long_side`."""
    if image.format == "JPEG":
        image.draft("RGB", _draft_size(image.size, math.ceil(long_side * DRAFT_SLACK)))
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        image.load()
    rgb = _to_rgb(image)
    if rgb is not image:
        image.close()  # only the converted copy is needed from here on
    return rgb


def _renditions(decoded: Image.Image, sides: Sequence[int], transpose: Image.Transpose | None, quality: int) -> dict[int, bytes]:
    """One JPEG per long side (largest first, each shrunk from the previous one), upright, metadata-free.

    Takes ownership of `decoded` and frees it as soon as a smaller copy exists (it is the large
    allocation). Sides that come out at the same size (a photo smaller than both) share one
    encoding. Rotation comes after shrinking: cheaper on fewer pixels, and the long side is the same.
    """
    outputs: dict[int, bytes] = {}
    encoded: dict[tuple[int, int], bytes] = {}
    current = decoded
    try:
        for side in sides:
            size = _fit(current.size, side)
            if size != current.size:
                smaller = current.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
                current.close()
                current = smaller
            if size not in encoded:
                upright = current.transpose(transpose) if transpose is not None else current
                encoded[size] = _encode(upright, quality)
                if upright is not current:
                    upright.close()
            outputs[side] = encoded[size]
    finally:
        current.close()
    return outputs


def _as_is(raw: RawImage, image: Image.Image, sides: Sequence[int], transpose: Image.Transpose | None) -> bytes | None:
    """The upload itself minus its metadata, when it is a colour JPEG that needs neither shrinking
    nor rotating (its pixels are checked by a decode at 1/8 scale); None (`image` untouched):
    re-encode it instead.

    Adobe JPEGs are left to the re-encoding: their colour transform lives in an APP14 segment.
    """
    if image.format != "JPEG" or image.mode != "RGB" or "adobe" in image.info or transpose is not None or max(image.size) > min(sides):
        return None
    stripped = strip_metadata(raw.data)
    if stripped is None:
        return None
    image.draft("RGB", (max(1, image.size[0] // 8), max(1, image.size[1] // 8)))  # every coefficient is still read
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        image.load()  # truncated or broken: raises, like a full decode
    return stripped


def normalise(raw: RawImage, *, long_sides: Iterable[int], max_pixels: int, quality: int = JPEG_QUALITY) -> dict[int, bytes]:
    """Decode once and re-encode a clean JPEG for each requested long side (blocking: run in a thread).

    Orientation from EXIF is applied to the pixels; EXIF (GPS included), ICC, XMP and comments are
    dropped; bytes after the image's end (polyglots) never reach the output. Images are only
    shrunk, never enlarged; a JPEG is decoded at a reduced scale when the sizes asked allow it, and
    an upright colour JPEG within every size is sent as uploaded, minus its metadata segments.

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
            transpose = _upright(image)  # read before decoding: _decode may close `image`
            if (as_is := _as_is(raw, image, sides, transpose)) is not None:
                outputs = dict.fromkeys(sides, as_is)
            else:
                outputs = _renditions(_decode(image, sides[0]), sides, transpose, quality)
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
