"""Members' free text (nicknames, notes) is plain text: markup is removed before it is stored.

The API answers JSON and the iCalendar feed escapes text itself, so stored text is never markup:
tags are dropped (with the content of `script`, `style` and similar elements), entities are decoded
to the characters they stand for, and the result is stripped again until nothing tag-like is left
(`&lt;script&gt;` does not survive as `<script>`). Plain `<`, `>` and `&` in prose stay.
"""

from __future__ import annotations

import re
import unicodedata
from html.parser import HTMLParser

from rest_framework import serializers

_DROP_CONTENT = frozenset({"script", "style", "template", "noscript", "iframe", "object", "embed", "svg", "math", "textarea", "title"})
_TAG_LIKE = re.compile(r"<[A-Za-z!/?]")
# C0/C1 controls except tab and newline, and the bidirectional overrides used to disguise text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SPACES = re.compile(r"[ \t\u00a0]+")
_PASSES = 4


class _TextOnly(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._dropping: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in _DROP_CONTENT:
            self._dropping.append(tag)
        elif tag in ("br", "p", "div", "li") and not self._dropping:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self._dropping and tag == self._dropping[-1]:
            self._dropping.pop()

    def handle_data(self, data: str) -> None:
        if not self._dropping:
            self.parts.append(data)


def strip_markup(value: str) -> str:
    """`value` without tags, comments or the content of script-like elements; entities decoded."""
    for _ in range(_PASSES):
        if "<" not in value and "&" not in value:
            return value
        parser = _TextOnly()
        parser.feed(value)
        parser.close()
        stripped = "".join(parser.parts)
        if stripped == value:
            break
        value = stripped
    # Anything still tag-like after several rounds is hostile nesting: keep the words, lose the `<`.
    return _TAG_LIKE.sub(lambda m: m.group(0)[1:], value) if _TAG_LIKE.search(value) else value


def plain_text(value: str, *, multiline: bool) -> str:
    """Normalised plain text: NFC, no markup, no control characters, tidy whitespace."""
    value = unicodedata.normalize("NFC", value)
    value = strip_markup(value)
    value = _CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))
    if multiline:
        lines = [_SPACES.sub(" ", line).strip() for line in value.split("\n")]
        value = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
    else:
        value = " ".join(value.split())
    return value.strip()


class PlainTextField(serializers.CharField):
    """A `CharField` whose value is stored as plain text (see the module docstring).

    `max_length` bounds the raw input too, so a huge body is refused before any parsing.
    """

    def __init__(self, *, multiline: bool = False, **kwargs) -> None:
        self.multiline = multiline
        super().__init__(**kwargs)

    def to_internal_value(self, data: object) -> str:
        if not isinstance(data, str):  # CharField would turn 42 or True into text
            self.fail("invalid")
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        value = plain_text(super().to_internal_value(data), multiline=self.multiline)
        if not value and not self.allow_blank:
            self.fail("blank")
        return value
