"""Headless preview: editors preview drafts in the separately hosted frontend.

When an editor presses Preview, Wagtail calls `serve_preview` with the unsaved page built from the
edit form. We keep that draft's JSON in Redis for `PREVIEW_TOKEN_MAX_AGE` seconds under a random
key, sign `{key, page type}` into a token (django.core.signing, so it cannot be forged or altered),
and show the frontend at `PREVIEW_FRONTEND_URL?token=…` in the preview panel. The frontend
exchanges the token at `/api/v2/preview/?token=…` for the draft in the pages API's JSON shape.

Tokens are short-lived by construction: the signature's age is checked (`max_age`) and the draft
expires from the cache at the same time. A token grants read access to that one draft only.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html

SALT = "plant_cms.preview"
CACHE_PREFIX = "preview:"


class PreviewTokenError(Exception):
    """The token is malformed, forged, expired, or its draft is gone (`code` says which)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def max_age() -> int:
    return int(getattr(settings, "PREVIEW_TOKEN_MAX_AGE", 600))


def issue_token(page: Any) -> str:
    """Store the (possibly unsaved) page's JSON and return the signed token that reads it back."""
    key = secrets.token_urlsafe(18)
    cache.set(CACHE_PREFIX + key, page.to_json(), timeout=max_age())
    label = f"{page._meta.app_label}.{type(page).__name__}"
    return signing.dumps({"k": key, "t": label}, salt=SALT, compress=True)


def read_token(token: str) -> tuple[str, str]:
    """The page type label and draft JSON for a token.

    Raises:
        PreviewTokenError: `preview_token_invalid` (bad signature or shape) or
            `preview_token_expired` (older than `PREVIEW_TOKEN_MAX_AGE`, or the draft is gone).
    """
    if not token or len(token) > 512:
        raise PreviewTokenError("preview_token_invalid", "The preview token is missing or malformed.")
    try:
        data = signing.loads(token, salt=SALT, max_age=max_age())
    except signing.SignatureExpired:
        raise PreviewTokenError("preview_token_expired", "The preview token has expired; press Preview again.") from None
    except signing.BadSignature:
        raise PreviewTokenError("preview_token_invalid", "The preview token is not valid.") from None
    if not isinstance(data, dict) or not isinstance(data.get("k"), str) or not isinstance(data.get("t"), str):
        raise PreviewTokenError("preview_token_invalid", "The preview token is not valid.")
    content = cache.get(CACHE_PREFIX + data["k"])
    if content is None:
        raise PreviewTokenError("preview_token_expired", "The preview has expired; press Preview again.")
    return data["t"], content


def frontend_url(token: str, page: Any) -> str | None:
    base = getattr(settings, "PREVIEW_FRONTEND_URL", "")
    if not base:
        return None
    label = f"{page._meta.app_label}.{type(page).__name__}"
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}{urlencode({'token': token, 'type': label})}"


class HeadlessPreviewMixin:
    """For page models rendered by the external frontend: preview there, and keep the page's own
    URL answering with a minimal document that points at the API."""

    def serve_preview(self, request: HttpRequest, mode_name: str) -> HttpResponse:
        token = issue_token(self)
        target = frontend_url(token, self)
        exchange = f"/api/v2/preview/?{urlencode({'token': token})}"
        if target is None:
            body = format_html(
                "<p>No preview frontend is configured (CMS_PREVIEW_FRONTEND_URL). "
                '<a href="{}">The draft as JSON</a> (valid {} seconds).</p>',
                exchange, max_age(),
            )
        else:
            body = format_html(
                '<iframe src="{}" title="Preview" style="border:0;width:100%;height:100vh"></iframe>'
                '<p><a href="{}" target="_blank" rel="noopener">Open the preview in a new tab</a></p>',
                target, target,
            )
        response = HttpResponse(format_html('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Preview: {}</title></head><body style="margin:0">{}</body></html>', self.title, body))
        response["Cache-Control"] = "no-store"
        return response

    def serve(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return HttpResponse(format_html(
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{}</title></head>'
            '<body><h1>{}</h1><p><a href="/api/v2/pages/{}/">This page in the content API</a></p></body></html>',
            self.title, self.title, self.pk,
        ))
