"""Editors' plain-text fields (standfirsts, names, credits) must not carry markup: frontends show
them as text, so a tag there is either a mistake or an attack. Rich text fields are sanitised by
Wagtail's editor instead (a feature whitelist)."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError

_TAG_LIKE = re.compile(r"<[A-Za-z!/?]")  # as browsers start a tag: "<" then a letter, "!", "/" or "?"


def reject_markup(instance: Any, fields: tuple[str, ...]) -> None:
    """Raise a ValidationError naming each of `fields` whose value contains an HTML tag.

    Raises:
        ValidationError: `{field: message}` for the offending fields (shown on the admin form).
    """
    errors = {name: "Plain text only: remove the HTML tags." for name in fields if _TAG_LIKE.search(str(getattr(instance, name, "") or ""))}
    if errors:
        raise ValidationError(errors)
