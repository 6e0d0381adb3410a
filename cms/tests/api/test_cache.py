"""Anonymous /api/v2/ GETs are served from Redis and purged when pages are published, unpublished or moved."""

import pytest
from wagtail.models import Page

from plant_cms.api_cache import GENERATION_KEY
from plant_cms.blog.factories import blog_index, make_post
from plant_cms.species.factories import catalogue, make_species

pytestmark = pytest.mark.django_db

LISTING = "/api/v2/pages/?type=blog.BlogPostPage&fields=title"


@pytest.fixture(autouse=True)
def fresh_generation():
    """Every test starts from its own cache generation (keys of earlier tests are unreachable)."""
    from django.core.cache import cache

    cache.delete(GENERATION_KEY)


def titles(response):
    return [item["title"] for item in response.json()["items"]]


def test_second_anonymous_get_is_served_from_the_cache(client):
    make_post("Cached")

    first = client.get(LISTING)
    second = client.get(LISTING)

    assert first["X-Cache"] == "MISS"
    assert second["X-Cache"] == "HIT"
    assert second.content == first.content


def test_publishing_purges_so_the_next_get_shows_the_change(client):
    post = make_post("Before")
    assert titles(client.get(LISTING)) == ["Before"]
    assert client.get(LISTING)["X-Cache"] == "HIT"

    post.title = "After"
    post.save_revision().publish()
    response = client.get(LISTING)

    assert response["X-Cache"] == "MISS"
    assert titles(response) == ["After"]


def test_unpublishing_purges(client):
    post = make_post("Going away")
    assert titles(client.get(LISTING)) == ["Going away"]

    post.unpublish()

    assert titles(client.get(LISTING)) == []


def test_moving_purges(client):
    post = make_post("Mover")
    other = Page.objects.get(pk=catalogue().pk)
    detail = f"/api/v2/pages/{post.pk}/"
    parent_before = client.get(detail).json()["meta"]["parent"]["id"]
    assert parent_before == blog_index().pk
    assert client.get(detail)["X-Cache"] == "HIT"

    post.move(blog_index(), pos="last-child")  # a move within the same parent still changes the tree
    response = client.get(detail)

    assert response["X-Cache"] == "MISS"
    assert other.pk != parent_before


def test_snippet_changes_purge(client):
    make_post("Anything")
    client.get(LISTING)

    make_species("Aloe vera", family="Asphodelaceae")

    assert client.get(LISTING)["X-Cache"] == "MISS"


def test_authenticated_requests_bypass_the_cache(client):
    make_post("Private view")
    client.get(LISTING)

    response = client.get(LISTING, HTTP_AUTHORIZATION="Bearer something")

    assert "X-Cache" not in response


def test_errors_are_not_cached(client):
    client.get("/api/v2/pages/?colour=green")

    assert client.get("/api/v2/pages/?colour=green")["X-Cache"] == "MISS"
