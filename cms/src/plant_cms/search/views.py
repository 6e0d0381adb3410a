"""`GET /api/v1/search/?q=`: one ranked list over species and blog posts."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from plant_cms.search import engine
from plant_cms.search.serializers import SearchQuerySerializer, SearchResponseSerializer


class SearchView(APIView):
    """Search species (scientific and common names, synonyms) and blog posts; typo tolerant, with highlights and facets by type."""

    authentication_classes: list[type] = []  # public: a token is neither needed nor checked
    permission_classes = [AllowAny]

    @extend_schema(parameters=[SearchQuerySerializer], responses=SearchResponseSerializer, operation_id="search")
    def get(self, request: Request) -> Response:
        query = SearchQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q, kind = query.validated_data["q"], query.validated_data.get("type")
        number, size = query.validated_data["page"], query.validated_data["page_size"]
        found = engine.search(q, kind=kind, limit=size, offset=(number - 1) * size)
        url = request.build_absolute_uri()
        has_next = number * size < found.count
        previous = None
        if number > 1:
            previous = remove_query_param(url, "page") if number == 2 else replace_query_param(url, "page", number - 1)
        return Response({
            "query": q,
            "count": found.count,
            "facets": {"type": found.facets},
            "next": replace_query_param(url, "page", number + 1) if has_next else None,
            "previous": previous,
            "results": found.results,
        })
