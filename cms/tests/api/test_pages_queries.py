"""The pages API loads a listing in a constant number of SQL queries, whatever its length."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from plant_cms.blog.factories import make_author, make_category, make_post, make_series
from plant_cms.species.factories import make_image, make_species, make_species_page

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("api_uncached")]

POSTS = "/api/v2/pages/?type=blog.BlogPostPage&fields=*&limit=20"
SPECIES = "/api/v2/pages/?type=species.SpeciesPage&fields=*&limit=20"


def rich_post(n, species_page):
    """A post with every relation the API serialises: images (hero, body, portrait), authors,
    categories, series, tags and related species."""
    author = make_author(f"Author {n}", portrait=make_image(f"portrait {n}"))
    return make_post(
        f"Post number {n}",
        hero_image=make_image(f"hero {n}"),
        body=[
            ("heading", {"text": "Light", "level": "h2"}),
            ("paragraph", "<p>Bright <b>indirect</b> light.</p>"),
            ("image", {"image": make_image(f"body {n}"), "caption": "A leaf", "credit": "generated", "alt": ""}),
            ("image", {"image": make_image(f"body {n} b"), "caption": "Another", "credit": "generated", "alt": "alt"}),
            ("quote", {"text": "Water less.", "attribution": "Mara"}),
            ("callout", {"tone": "tip", "title": "Tip", "text": "<p>Use rain water.</p>"}),
        ],
        authors=[author, make_author("Shared author")],
        categories=[make_category(f"Category {n}"), make_category("Shared")],
        series=make_series(),
        series_position=n,
        tags=[f"tag-{n}", "shared"],
        related_species=[species_page],
    )


def count_queries(client, url):
    client.get(url)  # warm process-wide caches (content types, site root paths, renditions)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(queries), response.json()


def test_post_listing_costs_the_same_queries_for_1_and_20_posts(client):
    species_page = make_species_page(hero_image=make_image("monstera"))
    rich_post(0, species_page)
    one, body = count_queries(client, POSTS)
    assert body["meta"]["total_count"] == 1

    for n in range(1, 20):
        rich_post(n, species_page)
    twenty, body = count_queries(client, POSTS)

    assert body["meta"]["total_count"] == 20
    assert len(body["items"]) == 20
    assert twenty == one, f"{one} queries for 1 post, {twenty} for 20"


def test_species_listing_costs_the_same_queries_for_1_and_20_pages(client):
    similar = make_species("Philodendron hederaceum")
    first = make_species_page(make_species("Species 0", common={"en": ["Zero"]}, synonyms=["Old 0"]), hero_image=make_image("s0"))
    first.similar_species.add(similar)
    first.save_revision().publish()
    one, _ = count_queries(client, SPECIES)

    for n in range(1, 20):
        page = make_species_page(make_species(f"Species {n}", common={"en": [f"Name {n}"], "de": [f"Name {n} de"]}, synonyms=[f"Old {n}"]), hero_image=make_image(f"s{n}"))
        page.similar_species.add(similar)
        page.save_revision().publish()
    twenty, body = count_queries(client, SPECIES)

    assert body["meta"]["total_count"] == 20
    assert twenty == one, f"{one} queries for 1 page, {twenty} for 20"


def test_mixed_page_listing_costs_the_same_queries_for_few_and_many_pages(client):
    make_post("First post")
    few, _ = count_queries(client, "/api/v2/pages/?fields=*&limit=20")
    for n in range(10):
        make_post(f"Post {n}")
    many, body = count_queries(client, "/api/v2/pages/?fields=*&limit=20")
    assert len(body["items"]) > 10
    assert many == few
