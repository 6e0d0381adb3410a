"""`POST /api/v1/internal/species/lookup/`: the identification gateway's one call to turn engine
results (scientific names, GBIF keys) into our species pages and care summaries.

Internal only: the edge does not route /api/v1/internal/, and only a service token (scope
`internal`) whose client is the identification gateway may call it.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.db.models.functions import Lower
from drf_spectacular.utils import extend_schema, inline_serializer
from plant_shared.django_auth import PlatformTokenAuthentication
from plant_shared.tokens import Claims
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from plant_cms.species.models import PlantSpecies, Synonym, species_data

MAX_NAMES = 50
MAX_KEYS = 50
GATEWAY_CLIENT_IDS = frozenset({"identify-gateway"})


class IsIdentifyGateway(BasePermission):
    """A verified service token (scope `internal`) issued to the identification gateway."""

    message = "Only the identification gateway may call this endpoint."

    def has_permission(self, request: Request, view: Any) -> bool:
        claims = request.auth
        return (
            isinstance(claims, Claims)
            and claims.is_service
            and claims.has_scope("internal")
            and claims.client_id in GATEWAY_CLIENT_IDS
        )


class LookupRequestSerializer(serializers.Serializer):
    names = serializers.ListField(
        child=serializers.CharField(max_length=200, trim_whitespace=True), max_length=MAX_NAMES, required=False, default=list,
        help_text="Scientific names, with or without authorship (e.g. 'Monstera deliciosa Liebm.').",
    )
    gbif_keys = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=2**53), max_length=MAX_KEYS, required=False, default=list)

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object."]})
        unknown = set(data) - set(self.fields)
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in sorted(unknown)})
        return super().to_internal_value(data)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs["names"] and not attrs["gbif_keys"]:
            raise serializers.ValidationError("Give at least one name or GBIF key.")
        return attrs


def _candidates(name: str) -> list[str]:
    """The forms a name may be stored under: as given, and its first two words (the binomial)."""
    words = name.lower().split()
    forms = [" ".join(words)]
    if len(words) > 2:
        forms.append(" ".join(words[:2]))
    return forms


def _result(species: PlantSpecies, match: str, name: str | None, key: int | None) -> dict[str, Any]:
    page = getattr(species, "page", None)
    live = page is not None and page.live
    return {
        "query": {"name": name, "gbif_key": key},
        "match": match,
        "species": species_data(species),
        "page": {"id": page.pk, "title": page.title, "url": page.url, "api_url": f"/api/v2/pages/{page.pk}/"} if live else None,
        "care_summary": page.get_care_summary() if live else None,
    }


class SpeciesLookupView(APIView):
    """Match scientific names (and synonyms) and GBIF keys to species, their pages and care summaries."""

    authentication_classes = [PlatformTokenAuthentication]
    permission_classes = [IsIdentifyGateway]

    @extend_schema(
        request=LookupRequestSerializer,
        responses=inline_serializer(
            "SpeciesLookupResponse",
            {
                "results": serializers.ListField(child=serializers.DictField()),
                "unmatched": inline_serializer("SpeciesLookupUnmatched", {
                    "names": serializers.ListField(child=serializers.CharField()),
                    "gbif_keys": serializers.ListField(child=serializers.IntegerField()),
                }),
            },
        ),
        operation_id="internal_species_lookup",
    )
    def post(self, request: Request) -> Response:
        body = LookupRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        names: list[str] = list(dict.fromkeys(n for n in body.validated_data["names"] if n))
        keys: list[int] = list(dict.fromkeys(body.validated_data["gbif_keys"]))
        forms = sorted({form for name in names for form in _candidates(name)})

        synonym_of = Synonym.objects.annotate(lname=Lower("name")).filter(lname__in=forms)
        found = list(
            PlantSpecies.objects.annotate(lname=Lower("scientific_name"))
            .filter(Q(lname__in=forms) | Q(gbif_key__in=keys) | Q(pk__in=synonym_of.values("species_id")))
            .select_related("page")
            .prefetch_related("common_names", "synonyms")
        )
        by_name = {s.scientific_name.lower(): s for s in found}
        by_synonym = {syn.name.lower(): s for s in found for syn in s.synonyms.all()}
        by_key = {s.gbif_key: s for s in found if s.gbif_key is not None}

        results, unmatched_names, unmatched_keys = [], [], []
        for name in names:
            hit = next(((by_name[f], "scientific_name") for f in _candidates(name) if f in by_name), None)
            hit = hit or next(((by_synonym[f], "synonym") for f in _candidates(name) if f in by_synonym), None)
            if hit:
                results.append(_result(hit[0], hit[1], name, None))
            else:
                unmatched_names.append(name)
        for key in keys:
            if key in by_key:
                results.append(_result(by_key[key], "gbif_key", None, key))
            else:
                unmatched_keys.append(key)
        return Response({"results": results, "unmatched": {"names": unmatched_names, "gbif_keys": unmatched_keys}})
