"""Checking and re-encoding members' plant photos.

An upload is accepted only when Pillow decodes it as a JPEG, PNG or WebP image within the size
and pixel caps (the name and the declared content type are ignored). What is stored is a fresh
encoding of the pixels: no EXIF (so no GPS position or camera serial), no trailing bytes, no
embedded payloads; the EXIF orientation is applied first so the photo stays upright.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import IO

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a 48 MP phone's photo is re-saved smaller by the phone; 40 MP is generous
MAX_SIDE = 12_000
MAX_PHOTOS_PER_PLANT = 20

# Pillow format -> (content type, file extension).
FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp")}


class PhotoRejected(ValueError):
    """The upload is not an acceptable photo; the message is for the client."""


@dataclass(frozen=True)
class CleanPhoto:
    content: bytes
    content_type: str
    extension: str
    width: int
    height: int


def clean_photo(upload: IO[bytes], *, size: int) -> CleanPhoto:
    """Validate an uploaded file and return it re-encoded.

    Args:
        upload: the uploaded file, readable and seekable.
        size: its size in bytes, as received.

    Raises:
        PhotoRejected: too large, not an image, an unsupported format, too many pixels.
    """
    if size > MAX_BYTES:
        raise PhotoRejected(f"The photo is larger than {MAX_BYTES // (1024 * 1024)} MB.")
    if size == 0:
        raise PhotoRejected("The file is empty.")
    try:
        upload.seek(0)
        with Image.open(upload) as probe:  # reads the header only
            fmt = probe.format
            width, height = probe.size
            if fmt not in FORMATS:
                raise PhotoRejected("Only JPEG, PNG and WebP photos are accepted.")
            # Checked before any pixel is decoded (and well under Pillow's own bomb limit).
            if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
                raise PhotoRejected(f"The photo has more than {MAX_PIXELS // 1_000_000} million pixels or a side longer than {MAX_SIDE} pixels.")
            probe.verify()  # structure and checksums, without decoding the pixels
        upload.seek(0)
        with Image.open(upload) as image:
            image.load()  # decodes every pixel: truncated or corrupt data fails here
            upright = ImageOps.exif_transpose(image)
            return _encode(upright, fmt)
    except PhotoRejected:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError):
        raise PhotoRejected("The file is not an image in a supported format (JPEG, PNG or WebP).") from None
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError):
        raise PhotoRejected("The image data is damaged or incomplete.") from None


def _encode(image: Image.Image, fmt: str) -> CleanPhoto:
    content_type, extension = FORMATS[fmt]
    out = io.BytesIO()
    if fmt == "JPEG":
        image.convert("RGB").save(out, "JPEG", quality=88, optimize=True)
    elif fmt == "PNG":
        mode = "RGBA" if image.mode in ("RGBA", "LA", "P", "PA") else "RGB"
        image.convert(mode).save(out, "PNG", optimize=True)
    else:
        mode = "RGBA" if image.mode in ("RGBA", "LA", "P", "PA") else "RGB"
        image.convert(mode).save(out, "WEBP", quality=88)  # the first frame of an animation
    return CleanPhoto(content=out.getvalue(), content_type=content_type, extension=extension, width=image.width, height=image.height)
