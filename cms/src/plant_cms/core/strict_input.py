"""Serializer input that refuses what it does not understand, instead of silently dropping it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

_MAX_REPORTED = 20  # a body with thousands of junk keys gets a bounded error, not an echo of itself


class RejectUnknownFieldsMixin:
    """400 on body keys the serializer does not accept: undeclared ones ("Unknown field.") and
    read-only ones ("This field is read-only.").

    DRF ignores both by default, so a typo (`nickame`) or a client trying to set `owner_sub`
    would look like success while nothing was stored.
    """

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            fields: Mapping[str, serializers.Field] = self.fields  # type: ignore[attr-defined]
            errors: dict[str, list[str]] = {}
            for key in data.keys():
                field = fields.get(key)
                if field is None:
                    errors[str(key)[:100]] = ["Unknown field."]
                elif field.read_only:
                    errors[key] = ["This field is read-only."]
                if len(errors) >= _MAX_REPORTED:
                    break
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)  # type: ignore[misc]
