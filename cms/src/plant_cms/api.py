"""Wagtail API v2: every endpoint is registered here, and only here (mounted at /api/v2/)."""

from __future__ import annotations

from django.http import Http404
from plant_shared.errors import error_body
from rest_framework import status
from rest_framework.response import Response
from wagtail.api.v2.router import WagtailAPIRouter
from wagtail.api.v2.utils import BadRequestError
from wagtail.api.v2.views import BaseAPIViewSet, PagesAPIViewSet
from wagtail.documents.api.v2.views import DocumentsAPIViewSet
from wagtail.images.api.v2.views import ImagesAPIViewSet


class EnvelopeErrorsMixin:
    """Wagtail's endpoints answer errors with `{"message"}`; the platform answers `{"detail", "code"}`."""

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, Http404):
            return Response(error_body(str(exc) or "Not found.", "not_found"), status=status.HTTP_404_NOT_FOUND)
        if isinstance(exc, BadRequestError):
            return Response(error_body(str(exc), "bad_request"), status=status.HTTP_400_BAD_REQUEST)
        # Skip Wagtail's override; DRF's handling ends in the envelope exception handler.
        return super(BaseAPIViewSet, self).handle_exception(exc)  # type: ignore[misc]


class PagesEndpoint(EnvelopeErrorsMixin, PagesAPIViewSet):
    pass


class ImagesEndpoint(EnvelopeErrorsMixin, ImagesAPIViewSet):
    pass


class DocumentsEndpoint(EnvelopeErrorsMixin, DocumentsAPIViewSet):
    pass


api_router = WagtailAPIRouter("wagtailapi")
api_router.register_endpoint("pages", PagesEndpoint)
api_router.register_endpoint("images", ImagesEndpoint)
api_router.register_endpoint("documents", DocumentsEndpoint)
