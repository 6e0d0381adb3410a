"""Shapes of `/api/v1/search/`: the validated query and the response (for OpenAPI)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from plant_cms.search.engine import MAX_QUERY, MIN_QUERY, TYPES, normalise


class SearchQuerySerializer(serializers.Serializer):
    q = serializers.CharField(min_length=MIN_QUERY, max_length=MAX_QUERY, help_text="Words to find: scientific or common names, synonyms, post titles and text.")
    type = serializers.ChoiceField(choices=TYPES, required=False, help_text="Only this kind of result; facets still count both.")
    page = serializers.IntegerField(required=False, min_value=1, max_value=1000, default=1)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=50, default=20)

    def to_internal_value(self, data: Any) -> Any:
        unknown = set(data) - set(self.fields)
        if unknown:
            raise serializers.ValidationError({name: ["Unknown query parameter."] for name in sorted(unknown)})
        return super().to_internal_value(data)

    def validate_q(self, value: str) -> str:
        value = normalise(value)
        if len(value) < MIN_QUERY:
            raise serializers.ValidationError(f"Ensure this field has at least {MIN_QUERY} characters.")
        if "\x00" in value:
            raise serializers.ValidationError("The query contains a NUL character.")
        return value


class PageLinkSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    url = serializers.CharField(allow_null=True)
    api_url = serializers.CharField()


class SearchResultSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=TYPES)
    id = serializers.IntegerField(help_text="Species record id, or the post's page id.")
    title = serializers.CharField()
    subtitle = serializers.CharField()
    score = serializers.FloatField()
    page = PageLinkSerializer(allow_null=True)
    image = serializers.DictField(allow_null=True)
    highlights = serializers.DictField(help_text="HTML-escaped text with <mark> around matches: title, common_names, synonyms (species), text (posts).")


class SearchResponseSerializer(serializers.Serializer):
    query = serializers.CharField()
    count = serializers.IntegerField()
    facets = serializers.DictField(child=serializers.DictField(child=serializers.IntegerField()))
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = SearchResultSerializer(many=True)
