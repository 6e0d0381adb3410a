"""Images in the API: the rendition sizes every image is delivered in, a StreamField image block
with caption and credit, and a per-request pool that loads every StreamField image of a listing in
one query (instead of one query per page and block type)."""

from __future__ import annotations

import contextlib
import copy
import functools
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from typing import Any

from rest_framework.fields import Field
from wagtail import blocks
from wagtail.images import get_image_model
from wagtail.images.blocks import ImageChooserBlock
from wagtail.images.models import Filter

# Name → Wagtail filter spec. Every image in the API (page fields and StreamField blocks) carries
# all of them; a frontend picks by name and builds `srcset` from the widths.
RENDITIONS: dict[str, str] = {
    "thumbnail": "fill-320x240",
    "small": "max-480x480",
    "medium": "max-960x960",
    "large": "max-1600x1600",
    "social": "fill-1200x630",
}

_pool: ContextVar[dict[int, Any] | None] = ContextVar("plant_cms_image_pool", default=None)
# Representations already built in this request (an image shown by many posts is built once).
_built: ContextVar[dict[int, dict[str, Any]] | None] = ContextVar("plant_cms_image_built", default=None)


@functools.cache
def _filters() -> tuple[Filter, ...]:
    # One Filter per spec for the process: Wagtail parses a spec's operations once per instance.
    return tuple(Filter(spec=spec) for spec in RENDITIONS.values())


def image_representation(image: Any) -> dict[str, Any] | None:
    """An image as the API shows it: id, title, alt text, original size and every rendition's URL.

    Renditions come from the image's prefetched `renditions` when present (no query); missing
    ones are created once and cached.
    """
    if image is None:
        return None
    built = _built.get()
    if built is not None and image.pk in built:
        return built[image.pk]  # shared within the response: callers copy before changing it
    representation = _represent(image)
    if built is not None:
        built[image.pk] = representation
    return representation


def _represent(image: Any) -> dict[str, Any]:
    try:
        renditions = image.get_renditions(*_filters())
    except Exception:  # noqa: BLE001 - a missing or unreadable source file must not fail a listing
        renditions = {}
    return {
        "id": image.pk,
        "title": image.title,
        "alt": image.default_alt_text or image.title,
        "width": image.width,
        "height": image.height,
        "renditions": {
            name: {"url": r.full_url, "width": r.width, "height": r.height}
            for name, spec in RENDITIONS.items()
            if (r := renditions.get(spec)) is not None
        },
    }


class ImageRenditionsField(Field):
    """A DRF field for an image foreign key: `image_representation` of the related image."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> dict[str, Any] | None:
        return image_representation(value)


class PooledImageChooserBlock(ImageChooserBlock):
    """An image chooser that takes its images from the request's pool when one is active."""

    def bulk_to_python(self, values: list[Any]) -> list[Any]:
        pool = _pool.get()
        if pool is None or any(value is not None and value not in pool for value in values):
            return super().bulk_to_python(values)
        seen: set[int] = set()
        result = []
        for value in values:
            image = pool.get(value)
            if image is not None and value in seen:
                image = copy.copy(image)
            result.append(image)
            seen.add(value)
        return result

    def get_api_representation(self, value: Any, context: Any = None) -> dict[str, Any] | None:
        return image_representation(value)


class CaptionedImageBlock(blocks.StructBlock):
    """An image with caption and credit (photographer, licence or "generated for Plant Community")."""

    image = PooledImageChooserBlock()
    caption = blocks.CharBlock(required=False, max_length=250)
    credit = blocks.CharBlock(required=False, max_length=250)
    alt = blocks.CharBlock(required=False, max_length=250, help_text="Describe the picture; leave blank to use the image's own text.")

    def get_api_representation(self, value: Any, context: Any = None) -> dict[str, Any]:
        image = image_representation(value["image"])
        if image is not None and value["alt"]:
            image = {**image, "alt": value["alt"]}
        return {"image": image, "caption": value["caption"], "credit": value["credit"]}

    class Meta:
        icon = "image"


def collect_image_ids(block: blocks.Block, raw: Any, into: set[int]) -> None:
    """Add to `into` the ids of every pooled image chooser in `raw`, the raw JSON of `block`."""
    if raw is None:
        return
    if isinstance(block, PooledImageChooserBlock):
        if isinstance(raw, int):
            into.add(raw)
    elif isinstance(block, blocks.StreamBlock):
        for item in raw:
            child = block.child_blocks.get(item.get("type")) if isinstance(item, dict) else None
            if child is not None:
                collect_image_ids(child, item.get("value"), into)
    elif isinstance(block, blocks.ListBlock):
        for item in raw:
            value = item.get("value") if isinstance(item, dict) and "type" in item else item
            collect_image_ids(block.child_block, value, into)
    elif isinstance(block, blocks.StructBlock) and isinstance(raw, dict):
        for name, child in block.child_blocks.items():
            collect_image_ids(child, raw.get(name), into)


def stream_image_ids(instances: Iterable[Any], stream_fields: Iterable[str]) -> set[int]:
    """The image ids in the named StreamFields of `instances`, read from the raw JSON (no query)."""
    ids: set[int] = set()
    for instance in instances:
        for name in stream_fields:
            value = getattr(instance, name)
            collect_image_ids(value.stream_block, list(value.raw_data), ids)
    return ids


@contextlib.contextmanager
def image_pool(ids: Iterable[int]) -> Iterator[None]:
    """Within the block, pooled image choosers read these images (one query, renditions prefetched)."""
    wanted = set(ids)
    images = get_image_model().objects.filter(pk__in=wanted).prefetch_related("renditions") if wanted else []
    pool: dict[int, Any] = dict.fromkeys(wanted)  # a deleted image stays None, without a query
    pool.update((image.pk, image) for image in images)
    token, built = _pool.set(pool), _built.set({})
    try:
        yield
    finally:
        _pool.reset(token)
        _built.reset(built)
