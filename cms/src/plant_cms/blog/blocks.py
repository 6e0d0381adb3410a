"""The blog post body: the blocks editors compose a post from."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

from wagtail import blocks
from wagtail.embeds.blocks import EmbedBlock

from plant_cms.images import CaptionedImageBlock

RICH_FEATURES = ["h3", "h4", "bold", "italic", "link", "ol", "ul", "blockquote", "hr"]


class HeadingBlock(blocks.StructBlock):
    text = blocks.CharBlock(max_length=150)
    level = blocks.ChoiceBlock(choices=[("h2", "Heading 2"), ("h3", "Heading 3"), ("h4", "Heading 4")], default="h2")

    class Meta:
        icon = "title"


class QuoteBlock(blocks.StructBlock):
    text = blocks.TextBlock(max_length=1000)
    attribution = blocks.CharBlock(required=False, max_length=150)

    class Meta:
        icon = "openquote"


class CalloutBlock(blocks.StructBlock):
    tone = blocks.ChoiceBlock(choices=[("tip", "Tip"), ("info", "Note"), ("warning", "Warning")], default="tip")
    title = blocks.CharBlock(required=False, max_length=120)
    text = blocks.RichTextBlock(features=["bold", "italic", "link"])

    class Meta:
        icon = "help"
        label = "Call-out"


class VideoEmbedBlock(blocks.StructBlock):
    """An oEmbed URL (YouTube, Vimeo, ...). The API gives the URL; the frontend embeds it, so the
    API never calls an oEmbed provider."""

    url = EmbedBlock(max_width=960)
    caption = blocks.CharBlock(required=False, max_length=250)

    def get_api_representation(self, value: Any, context: Any = None) -> dict[str, Any]:
        return {"url": value["url"].url if value["url"] else None, "caption": value["caption"]}

    class Meta:
        icon = "media"
        label = "Embed"


class PostBodyBlock(blocks.StreamBlock):
    heading = HeadingBlock()
    paragraph = blocks.RichTextBlock(features=RICH_FEATURES, icon="pilcrow")
    image = CaptionedImageBlock()
    quote = QuoteBlock()
    callout = CalloutBlock()
    embed = VideoEmbedBlock()


def body_text(body: Any) -> str:
    """The readable text of a post body (headings, paragraphs, quotes, call-outs, captions)."""
    parts: list[str] = []
    for block in body:
        value = block.value
        if block.block_type == "heading":
            parts.append(value["text"])
        elif block.block_type == "paragraph":
            parts.append(_text(value.source))
        elif block.block_type == "quote":
            parts.append(value["text"])
        elif block.block_type == "callout":
            parts.extend([value["title"], _text(value["text"].source)])
        elif block.block_type in ("image", "embed"):
            parts.append(value["caption"])
    return " ".join(" ".join(p.split()) for p in parts if p)


_TAG = re.compile(r"<[^>]*>")


def _text(html: str) -> str:
    return unescape(_TAG.sub(" ", html))
