"""Wagtail API v2: every endpoint is registered here, and only here (mounted at /api/v2/).

- `pages`, `images`, `documents`, `redirects` (with `find/?html_path=`), and the seed's
  `blog-posts` and `plant-species` (pages endpoints restricted to one type).
- `preview/?token=` exchanges a headless-preview token for the draft's JSON (plant_cms.preview).
- Anonymous GETs are cached in Redis and purged on publish (plant_cms.api_cache).
- A listing costs a constant number of SQL queries whatever its length: page models declare
  `api_select_related`, `api_prefetch_related` and `api_stream_fields`; images inside StreamFields
  are loaded for the whole listing at once (plant_cms.images.image_pool).
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.db.models import prefetch_related_objects
from django.http import Http404
from django.urls import path
from plant_shared.errors import error_body
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from django.urls.exceptions import NoReverseMatch
from wagtail.api.v2.router import WagtailAPIRouter
from wagtail.api.v2.serializers import PageHtmlUrlField, PageSerializer
from wagtail.api.v2.utils import BadRequestError, parse_fields_parameter
from wagtail.api.v2.views import BaseAPIViewSet, PagesAPIViewSet
from wagtail.contrib.redirects.api import RedirectsAPIViewSet
from wagtail.contrib.redirects.middleware import get_redirect
from wagtail.contrib.redirects.models import Redirect
from wagtail.documents.api.v2.views import DocumentsAPIViewSet
from wagtail.images.api.v2.views import ImagesAPIViewSet
from wagtail.models import Page

from plant_cms.api_cache import CachedGetMixin
from plant_cms.blog.models import BlogPostPage
from plant_cms.images import image_pool, stream_image_ids
from plant_cms.preview import PreviewTokenError, read_token
from plant_cms.species.models import SpeciesPage


class EnvelopeErrorsMixin:
    """Wagtail's endpoints answer errors with `{"message"}`; the platform answers `{"detail", "code"}`.

    Responses are compact JSON (Wagtail indents by 4: a third larger and slower to render).
    """

    def get_renderer_context(self) -> dict[str, Any]:
        context = super().get_renderer_context()  # type: ignore[misc]
        context.pop("indent", None)
        return context

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, Http404):
            return Response(error_body(str(exc) or "Not found.", "not_found"), status=status.HTTP_404_NOT_FOUND)
        if isinstance(exc, BadRequestError):
            return Response(error_body(str(exc), "bad_request"), status=status.HTTP_400_BAD_REQUEST)
        # Skip Wagtail's override; DRF's handling ends in the envelope exception handler.
        return super(BaseAPIViewSet, self).handle_exception(exc)  # type: ignore[misc]


def requested_fields(request: Any) -> set[str] | None:
    """Field names a request asks for beyond the defaults; None means all (`fields=*`)."""
    try:
        config = parse_fields_parameter(request.GET.get("fields", ""))
    except ValueError:
        return set()  # the serializer reports the error
    if config and config[0][0] == "*":
        return None
    return {name for name, negated, _ in config if not negated and name not in ("*", "_")}


def _root(lookup: Any) -> str:
    root = (lookup if isinstance(lookup, str) else lookup.prefetch_to).split("__", 1)[0]
    return "tags" if root == "tagged_items" else root


def api_loading(model: type, fields: set[str] | None) -> tuple[list[str], list[str], list[str]]:
    """select_related, prefetch_related and StreamField names `model` declares for these fields."""
    wanted = (lambda name: True) if fields is None else (lambda name: name in fields)
    select = [f for f in getattr(model, "api_select_related", []) if wanted(_root(f))]
    prefetch = [f for f in getattr(model, "api_prefetch_related", []) if wanted(_root(f))]
    streams = [f for f in getattr(model, "api_stream_fields", []) if wanted(f)]
    return select, prefetch, streams


class RequestHtmlUrlField(PageHtmlUrlField):
    """`html_url` with the request passed on, so the site root paths are read once per request
    (Wagtail's field reads them from the cache once per page)."""

    def to_representation(self, page: Page) -> str | None:
        try:
            return page.get_full_url(request=self.context.get("request"))
        except NoReverseMatch:
            return None


class PlatformPageSerializer(PageSerializer):
    html_url = RequestHtmlUrlField(read_only=True)


class PagesEndpoint(EnvelopeErrorsMixin, CachedGetMixin, PagesAPIViewSet):
    """Wagtail's pages endpoint, loading relations for a whole listing at once."""

    base_serializer_class = PlatformPageSerializer

    def get_queryset(self) -> Any:
        queryset = super().get_queryset()
        fields = requested_fields(self.request)
        select, prefetch, _ = api_loading(queryset.model, fields)
        if fields is None or "locale" in fields:
            select = [*select, "locale"]
        return queryset.select_related(*set(select)).prefetch_related(*prefetch)

    def listing_view(self, request: Request) -> Response:
        queryset = self.get_queryset()
        self.check_query_parameters(queryset)
        queryset = self.filter_queryset(queryset)
        items = list(self.paginate_queryset(queryset))
        _, _, streams = api_loading(queryset.model, requested_fields(request))
        with image_pool(stream_image_ids(items, streams)):
            data = self.get_serializer(items, many=True).data
        return self.get_paginated_response(data)

    def detail_view(self, request: Request, pk: int) -> Response:
        instance = self.get_object()
        select, prefetch, streams = api_loading(type(instance), None)
        prefetch_related_objects([instance], *select, *prefetch)
        with image_pool(stream_image_ids([instance], streams)):
            data = self.get_serializer(instance).data
        return Response(data)


class BlogPostsEndpoint(PagesEndpoint):
    """The seed's `/api/v2/blog-posts/`: the pages endpoint for blog posts only."""

    model = BlogPostPage


class SpeciesPagesEndpoint(PagesEndpoint):
    """The seed's `/api/v2/plant-species/`: the pages endpoint for species pages only."""

    model = SpeciesPage


class ImagesEndpoint(EnvelopeErrorsMixin, CachedGetMixin, ImagesAPIViewSet):
    pass


class DocumentsEndpoint(EnvelopeErrorsMixin, CachedGetMixin, DocumentsAPIViewSet):
    pass


class RedirectsEndpoint(EnvelopeErrorsMixin, CachedGetMixin, RedirectsAPIViewSet):
    """`/api/v2/redirects/find/?html_path=/old/path/` → 302 to the redirect's detail (its `location`)."""

    def find_object(self, queryset: Any, request: Request) -> Any:
        if "html_path" in request.GET:
            # Match the way redirects are stored ("/Old/Path/?b=1&a=2" → "/old/path?a=2&b=1").
            path = Redirect.normalise_path(request.GET["html_path"])
            redirect = get_redirect(request, path)
            if redirect is None:
                raise Http404("No redirect from this path.")
            return redirect
        return super().find_object(queryset, request)


class _NoModel:
    """Endpoints that serve no model: the router must never pick them for a model's detail URL."""


class PreviewView(APIView):
    """Exchange a preview token (from the editor's Preview button) for the draft page's JSON."""

    authentication_classes: list[type] = []  # the signed token is the credential
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]

    def get(self, request: Request) -> Response:
        unknown = set(request.query_params) - {"token", "fields"}
        if unknown:
            return Response(error_body(f"Unknown query parameter: {', '.join(sorted(unknown))}.", "bad_request"), status=400)
        try:
            label, content = read_token(request.query_params.get("token", ""))
        except PreviewTokenError as exc:
            return Response(error_body(exc.detail, exc.code), status=400, headers={"Cache-Control": "no-store"})
        try:
            model = apps.get_model(label)
        except (LookupError, ValueError):
            model = None
        if model is None or not issubclass(model, Page):
            return Response(error_body("The preview token is not valid.", "preview_token_invalid"), status=400)
        page = model.from_json(content)
        excluded = [("parent", True, None)]
        if page.pk is None:  # a page not saved yet has no detail URL
            excluded += [("detail_url", True, None), ("html_url", True, None)]
        serializer_class = PagesEndpoint._get_serializer_class(api_router, model, [("*", False, None), *excluded], show_details=True)
        request._request.wagtailapi_router = api_router
        view = PagesEndpoint(request=request, format_kwarg=None)
        _, _, streams = api_loading(model, None)
        with image_pool(stream_image_ids([page], streams)):
            data = serializer_class(page, context={"request": request, "view": view, "router": api_router, "_wagtail_rich_text_format": "html"}).data
        data.setdefault("meta", {})["preview"] = True
        return Response(data, headers={"Cache-Control": "no-store", "X-Robots-Tag": "noindex"})


class PreviewEndpoint:
    model = _NoModel

    @classmethod
    def get_urlpatterns(cls) -> list[Any]:
        return [path("", PreviewView.as_view(), name="exchange")]


api_router = WagtailAPIRouter("wagtailapi")
api_router.register_endpoint("pages", PagesEndpoint)
api_router.register_endpoint("images", ImagesEndpoint)
api_router.register_endpoint("documents", DocumentsEndpoint)
api_router.register_endpoint("redirects", RedirectsEndpoint)
api_router.register_endpoint("blog-posts", BlogPostsEndpoint)
api_router.register_endpoint("plant-species", SpeciesPagesEndpoint)
api_router.register_endpoint("preview", PreviewEndpoint)
