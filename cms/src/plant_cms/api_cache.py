"""Redis cache for anonymous `/api/v2/` GET responses, purged when published content changes.

Purging is O(1): every key embeds the current *generation* (a random token kept in Redis); a
purge replaces the token, so every older entry becomes unreachable and expires on its TTL.
Content that changes what the API shows purges: pages published, unpublished, moved or deleted,
and saved or deleted snippets, images, documents, redirects and sites.

When Redis is down the cache fails open: requests are answered uncached (and logged), never
refused; a purge that cannot reach Redis is logged, and entries written before it still expire
on their TTL (`API_CACHE_SECONDS`).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)

GENERATION_KEY = "api:v2:generation"


def _generation() -> str:
    generation = cache.get(GENERATION_KEY)
    if generation is None:
        cache.add(GENERATION_KEY, uuid.uuid4().hex, timeout=None)
        generation = cache.get(GENERATION_KEY)
    return generation


def purge(**_: Any) -> None:
    """Make every cached API response stale (a signal receiver: it accepts any arguments)."""
    try:
        cache.set(GENERATION_KEY, uuid.uuid4().hex, timeout=None)
    except Exception:  # noqa: BLE001 - Redis down: entries expire on their TTL
        logger.warning("api cache purge failed; cached responses expire within %ss", settings.API_CACHE_SECONDS, exc_info=True)


def is_cacheable(request: HttpRequest) -> bool:
    """Anonymous GETs only: no Authorization header and no admin session cookie."""
    return (
        request.method == "GET"
        and settings.API_CACHE_SECONDS > 0
        and "HTTP_AUTHORIZATION" not in request.META
        and settings.SESSION_COOKIE_NAME not in request.COOKIES
    )


def cache_key(request: HttpRequest) -> str:
    query = "&".join(sorted(request.META.get("QUERY_STRING", "").split("&")))
    digest = hashlib.sha256(f"{request.get_host()}|{request.path}|{query}".encode()).hexdigest()
    return f"api:v2:{_generation()}:{digest}"


class CachedGetMixin:
    """For Wagtail API viewsets: serve anonymous GETs from Redis; store 200 responses.

    Responses carry `X-Cache: HIT` or `MISS`.
    """

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        key = None
        if is_cacheable(request):
            try:
                key = cache_key(request)
                hit = cache.get(key)
            except Exception:  # noqa: BLE001 - fail open
                logger.warning("api cache read failed", exc_info=True)
                key, hit = None, None
            if hit is not None:
                content, content_type = hit
                response = HttpResponse(content, content_type=content_type)
                response["X-Cache"] = "HIT"
                return response
        response = super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
        if key is not None:
            response["X-Cache"] = "MISS"
            if response.status_code == 200:
                response.render()
                try:
                    cache.set(key, (response.content, response["Content-Type"]), timeout=settings.API_CACHE_SECONDS)
                except Exception:  # noqa: BLE001
                    logger.warning("api cache write failed", exc_info=True)
        return response


def connect_signals() -> None:
    """Purge on every change that alters what the API shows (called from an AppConfig.ready)."""
    from django.db.models.signals import post_delete, post_save
    from wagtail.contrib.redirects.models import Redirect
    from wagtail.documents import get_document_model
    from wagtail.images import get_image_model
    from wagtail.models import Page, Site
    from wagtail.signals import page_published, page_unpublished, post_page_move

    from plant_cms.blog.models import Author, BlogCategory, Series
    from plant_cms.species.models import PlantSpecies

    page_published.connect(purge, dispatch_uid="api_cache_page_published")
    page_unpublished.connect(purge, dispatch_uid="api_cache_page_unpublished")
    post_page_move.connect(purge, dispatch_uid="api_cache_page_moved")

    def page_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
        if isinstance(instance, Page) and instance.live:
            purge()

    post_delete.connect(page_deleted, dispatch_uid="api_cache_page_deleted")
    for model in (PlantSpecies, Author, BlogCategory, Series, get_image_model(), get_document_model(), Redirect, Site):
        post_save.connect(purge, sender=model, dispatch_uid=f"api_cache_saved_{model._meta.label_lower}")
        post_delete.connect(purge, sender=model, dispatch_uid=f"api_cache_deleted_{model._meta.label_lower}")
