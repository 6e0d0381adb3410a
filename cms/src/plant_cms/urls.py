"""The CMS's URLs. Through the edge: /api/v2/, /cms/, /static/, /media/; probes stay internal."""

from __future__ import annotations

from django.conf import settings
from django.conf.urls.static import static
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularJSONAPIView
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.documents import urls as wagtaildocs_urls
from wagtail.images import urls as wagtailimages_urls

from plant_cms.api import api_router
from plant_cms.core import errors, probes

urlpatterns = [
    path("livez", probes.livez, name="livez"),
    path("readyz", probes.readyz, name="readyz"),
    path("metrics", probes.metrics, name="metrics"),
    path("cms/", include(wagtailadmin_urls)),
    path("api/v2/", api_router.urls),
    path("api/v1/blog/", include("plant_cms.blog.urls")),
    path("api/v1/search/", include("plant_cms.search.urls")),
    path("api/v1/internal/species/", include("plant_cms.species.urls")),
    path("api/v1/", include("plant_cms.garden.urls")),  # garden/…, calendar/… (members' tokens)
    # The OpenAPI document of every DRF endpoint (Wagtail's /api/v2/ is described by Wagtail).
    path("api/v1/cms/openapi.json", SpectacularJSONAPIView.as_view(), name="openapi"),
    # Anything else under /api/ answers the JSON envelope, even with DEBUG on.
    re_path(r"^api/", errors.api_not_found),
    path("documents/", include(wagtaildocs_urls)),
    path("images/", include(wagtailimages_urls)),
]

if settings.DEBUG:
    # Uploaded media in development only; nginx serves it in production.
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

urlpatterns += [
    # Last: Wagtail's page serving gives pages their URLs (API `html_url`, the admin's "view live").
    path("", include(wagtail_urls)),
]

handler400 = errors.bad_request
handler403 = errors.permission_denied
handler404 = errors.not_found
handler500 = errors.server_error
