"""Headless preview: Wagtail's Preview shows the external frontend with a short-lived token that
the frontend exchanges at /api/v2/preview/ for the draft's JSON."""

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import RequestFactory

from plant_cms.blog.factories import blog_index, make_post
from plant_cms.blog.models import BlogPostPage

pytestmark = pytest.mark.django_db

FRONTEND = "https://frontend.example.test/preview"


@pytest.fixture
def frontend(settings):
    settings.PREVIEW_FRONTEND_URL = FRONTEND


def preview_token(page):
    response = page.serve_preview(RequestFactory().get("/cms/preview/"), page.default_preview_mode)
    assert response["Cache-Control"] == "no-store"
    src = unescape(re.search(r'<iframe src="([^"]+)"', response.content.decode()).group(1))
    assert src.startswith(FRONTEND + "?")
    query = parse_qs(urlsplit(src).query)
    assert query["type"] == [f"{page._meta.app_label}.{type(page).__name__}"]
    return query["token"][0]


def test_preview_shows_the_frontend_and_the_token_returns_the_unsaved_draft(client, frontend):
    post = make_post("Published title")
    post.title = "Draft title, not saved"
    post.body = [("paragraph", "<p>Draft <i>body</i></p>")]

    response = client.get(f"/api/v2/preview/?token={preview_token(post)}")

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["title"] == "Draft title, not saved"
    assert body["body"][0]["value"] == "<p>Draft <i>body</i></p>"
    assert body["meta"]["preview"] is True
    assert body["id"] == post.pk
    # the live page is untouched
    assert BlogPostPage.objects.get(pk=post.pk).title == "Published title"


def test_a_page_never_saved_can_be_previewed(client, frontend):
    page = BlogPostPage(title="Brand new", slug="brand-new", intro="Soon.", body=[("heading", {"text": "Hello", "level": "h2"})])
    page.locale = blog_index().locale  # as Wagtail's create view does
    page.set_url_path(blog_index())

    body = client.get(f"/api/v2/preview/?token={preview_token(page)}").json()

    assert body["title"] == "Brand new"
    assert "detail_url" not in body["meta"]


def test_tampered_token_is_refused(client, frontend):
    token = preview_token(make_post())

    response = client.get(f"/api/v2/preview/?token={token[:-2]}xx")

    assert response.status_code == 400
    assert response.json()["code"] == "preview_token_invalid"


def test_expired_token_is_refused(client, frontend, settings):
    token = preview_token(make_post())
    settings.PREVIEW_TOKEN_MAX_AGE = 0

    response = client.get(f"/api/v2/preview/?token={token}")

    assert response.status_code == 400
    assert response.json()["code"] == "preview_token_expired"


@pytest.mark.parametrize("query", ["", "token=", "token=" + "x" * 600, "token=abc&debug=1"])
def test_missing_or_malformed_token_is_a_400_envelope(client, query):
    response = client.get(f"/api/v2/preview/?{query}")

    assert response.status_code == 400
    assert set(response.json()) == {"detail", "code"}


def test_without_a_frontend_the_preview_links_to_the_json(client, settings):
    settings.PREVIEW_FRONTEND_URL = ""
    post = make_post()

    html = post.serve_preview(RequestFactory().get("/"), "").content.decode()

    assert "CMS_PREVIEW_FRONTEND_URL" in html
    link = unescape(re.search(r'href="([^"]+)"', html).group(1))
    assert client.get(link).json()["title"] == post.title
