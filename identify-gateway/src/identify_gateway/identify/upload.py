"""Reading an upload safely: the multipart body streamed under a byte cap, hashed as it arrives,
each image typed from its own bytes (never from the client's Content-Type or file name).

Nothing is decoded here: `images.py` does the Pillow work, and only on a cache miss.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable
from dataclasses import dataclass, field
from enum import StrEnum

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from identify_gateway.identify.errors import UploadRejected

IMAGE_FIELDS = frozenset({"image", "images"})
MAX_TEXT_FIELDS = 16
MAX_TEXT_FIELD_BYTES = 1024
FORM_OVERHEAD_BYTES = 64 * 1024  # part headers, boundaries and the small text fields, on top of the image bytes
SNIFF_BYTES = 16


class ImageKind(StrEnum):
    JPEG = "jpeg"
    PNG = "png"
    WEBP = "webp"
    HEIC = "heic"


# ISO-BMFF brands of HEIF/HEIC stills (the `ftyp` box at offset 4).
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"})


def sniff(head: bytes) -> ImageKind | None:
    """The image type from the first bytes; None for anything else (GIF, SVG, text, archives...)."""
    if head.startswith(b"\xff\xd8\xff"):
        return ImageKind.JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return ImageKind.PNG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return ImageKind.WEBP
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return ImageKind.HEIC
    return None


@dataclass(frozen=True)
class RawImage:
    """One uploaded image exactly as received: its bytes, their SHA-256 and their sniffed type."""

    data: bytes = field(repr=False)
    sha256: str
    kind: ImageKind

    @classmethod
    def from_bytes(cls, data: bytes, *, accept: frozenset[ImageKind]) -> RawImage:
        """Type and hash bytes already in memory (the worker's path, tests).

        Raises:
            UploadRejected: empty, or not an accepted image type.
        """
        return cls(data=data, sha256=hashlib.sha256(data).hexdigest(), kind=_check_kind(data[:SNIFF_BYTES], len(data), accept))


@dataclass(frozen=True)
class UploadForm:
    images: tuple[RawImage, ...]
    fields: dict[str, list[str]]

    def field(self, name: str) -> str | None:
        values = self.fields.get(name)
        return values[-1] if values else None


def too_large(limit: int) -> UploadRejected:
    return UploadRejected(413, "payload_too_large", f"The upload is larger than the {limit // (1024 * 1024)} MB limit.")


def _unsupported() -> UploadRejected:
    return UploadRejected(415, "unsupported_image_type", "Only JPEG, PNG, WebP and HEIC photos are accepted.")


def _check_kind(head: bytes, size: int, accept: frozenset[ImageKind]) -> ImageKind:
    if size == 0:
        raise UploadRejected(400, "image_empty", "The uploaded image is empty.")
    kind = sniff(head)
    if kind is None or kind not in accept:
        raise _unsupported()
    return kind


class _Part:
    __slots__ = ("name", "is_image", "data", "digest", "kind")

    def __init__(self) -> None:
        self.name = ""
        self.is_image = False
        self.data = bytearray()
        self.digest = hashlib.sha256()
        self.kind: ImageKind | None = None


class _FormCollector:
    """python-multipart callbacks that keep images (hashed as they stream) and a few short text fields."""

    def __init__(self, *, max_image_bytes: int, max_images: int, accept: frozenset[ImageKind]) -> None:
        self.max_image_bytes = max_image_bytes
        self.max_images = max_images
        self.accept = accept
        self.images: list[RawImage] = []
        self.fields: dict[str, list[str]] = {}
        self.image_bytes = 0
        self.text_fields = 0
        self.finished = False
        self._part = _Part()
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._disposition = b""

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_header_field": lambda data, start, end: self._header_name.extend(data[start:end]),
            "on_header_value": lambda data, start, end: self._header_value.extend(data[start:end]),
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_end": self.on_end,
        }

    def on_part_begin(self) -> None:
        self._part = _Part()
        self._disposition = b""

    def on_header_end(self) -> None:
        if bytes(self._header_name).strip().lower() == b"content-disposition":
            self._disposition = bytes(self._header_value)
        self._header_name.clear()
        self._header_value.clear()

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        name = options.get(b"name")
        if name is None:
            raise UploadRejected(400, "invalid_multipart", "Each form part needs a Content-Disposition name.")
        self._part.name = name.decode("utf-8", "replace")
        self._part.is_image = self._part.name in IMAGE_FIELDS
        if self._part.is_image:
            if len(self.images) >= self.max_images:
                raise UploadRejected(422, "too_many_images", f"Send at most {self.max_images} images of the same plant.")
        else:
            self.text_fields += 1
            if self.text_fields > MAX_TEXT_FIELDS:
                raise UploadRejected(400, "invalid_multipart", "The form has too many fields.")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = memoryview(data)[start:end]  # a view: image bytes are copied once, into the part
        part = self._part
        if not part.is_image:
            if len(part.data) + len(chunk) > MAX_TEXT_FIELD_BYTES:
                raise UploadRejected(422, "field_too_long", f"The form field `{part.name}` is too long.")
            part.data.extend(chunk)
            return
        self.image_bytes += len(chunk)
        if self.image_bytes > self.max_image_bytes:
            raise too_large(self.max_image_bytes)
        before = len(part.data)
        part.data.extend(chunk)
        part.digest.update(chunk)
        if part.kind is None and before < SNIFF_BYTES <= len(part.data):
            part.kind = _check_kind(bytes(part.data[:SNIFF_BYTES]), len(part.data), self.accept)  # reject early, mid-stream

    def on_part_end(self) -> None:
        part = self._part
        if not part.is_image:
            self.fields.setdefault(part.name, []).append(part.data.decode("utf-8", "replace").strip())
            return
        kind = part.kind or _check_kind(bytes(part.data[:SNIFF_BYTES]), len(part.data), self.accept)
        self.images.append(RawImage(data=bytes(part.data), sha256=part.digest.hexdigest(), kind=kind))
        part.data = bytearray()  # the bytes now live in the RawImage only

    def on_end(self) -> None:
        self.finished = True


async def read_upload(
    chunks: AsyncIterable[bytes],
    *,
    content_type: str | None,
    content_length: str | None,
    max_image_bytes: int,
    max_images: int,
    accept: frozenset[ImageKind],
) -> UploadForm:
    """Parse a multipart/form-data body as it streams in.

    The body is refused as soon as its image bytes pass `max_image_bytes` (or at once when the
    declared Content-Length already does), and each image as soon as its first bytes show it is
    not an accepted type. Images are hashed while they arrive.

    Args:
        chunks: the request body, chunk by chunk.
        content_type: the request's Content-Type (must be multipart/form-data with a boundary).
        content_length: the declared Content-Length, if any.
        max_image_bytes: cap on the image bytes of the whole request.
        max_images: cap on the number of images.
        accept: the image types taken.

    Raises:
        UploadRejected: 400, 413, 415 or 422 with a sentence saying what is wrong.
    """
    media_type, options = parse_options_header(content_type)
    if media_type != b"multipart/form-data" or b"boundary" not in options:
        raise UploadRejected(415, "unsupported_media_type", "Send the photo as multipart/form-data in the `image` field.")
    if content_length is not None:
        try:
            declared = int(content_length)
        except ValueError:
            raise UploadRejected(400, "bad_request", "The Content-Length header is not a number.") from None
        if declared > max_image_bytes + FORM_OVERHEAD_BYTES:
            raise too_large(max_image_bytes)
    collector = _FormCollector(max_image_bytes=max_image_bytes, max_images=max_images, accept=accept)
    # No max_size here: the parser would silently truncate; the loop below refuses instead.
    parser = MultipartParser(options[b"boundary"], collector.callbacks())  # type: ignore[arg-type]
    received = 0
    try:
        async for chunk in chunks:
            received += len(chunk)
            if received > max_image_bytes + FORM_OVERHEAD_BYTES:
                raise too_large(max_image_bytes)
            parser.write(chunk)
        parser.finalize()
    except FormParserError:
        raise UploadRejected(400, "invalid_multipart", "The multipart body is malformed.") from None
    if not collector.finished:
        raise UploadRejected(400, "invalid_multipart", "The multipart body ended early.")
    if not collector.images:
        raise UploadRejected(422, "image_missing", "Send a photo in the `image` field (or up to 5 in `images`).")
    return UploadForm(images=tuple(collector.images), fields=collector.fields)
