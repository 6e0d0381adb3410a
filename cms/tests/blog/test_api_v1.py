"""GET /api/v1/blog/…: published posts with pagination and filters, and the filter vocabularies."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from plant_cms.blog.factories import make_author, make_category, make_post, make_series
from plant_cms.species.factories import make_image, make_species_page

pytestmark = pytest.mark.django_db


@pytest.fixture
def posts():
    mara, tomasz = make_author("Mara Lindqvist"), make_author("Tomasz Nowak")
    care, garden = make_category("Houseplant care"), make_category("Garden")
    beginners = make_series("Houseplants for beginners")
    return {
        "water": make_post("Watering", date="2026-03-02", authors=[mara], categories=[care], tags=["watering", "beginners"], series=beginners, series_position=1),
        "light": make_post("Light", date="2026-03-16", authors=[mara], categories=[care], tags=["light", "beginners"], series=beginners, series_position=2),
        "lavender": make_post("Pruning lavender", date="2026-08-10", authors=[tomasz], categories=[garden], tags=["pruning"]),
        "draft": make_post("Draft", date="2026-09-01", authors=[mara], categories=[care], tags=["beginners"], publish=False),
    }


def titles(response):
    assert response.status_code == 200, response.content
    return [post["title"] for post in response.json()["results"]]


def test_listing_shows_published_posts_newest_first(client, posts):
    assert titles(client.get("/api/v1/blog/posts/")) == ["Pruning lavender", "Light", "Watering"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("category=garden", ["Pruning lavender"]),
        ("tag=beginners", ["Light", "Watering"]),
        ("author=mara-lindqvist", ["Light", "Watering"]),
        ("series=houseplants-for-beginners", ["Watering", "Light"]),  # in series order
        ("author=mara-lindqvist&category=garden", []),
        ("category=no-such-category", []),
    ],
)
def test_filters(client, posts, query, expected):
    assert titles(client.get(f"/api/v1/blog/posts/?{query}")) == expected


def test_pagination(client, posts):
    first = client.get("/api/v1/blog/posts/?page_size=2").json()

    assert first["count"] == 3
    assert [p["title"] for p in first["results"]] == ["Pruning lavender", "Light"]
    second = client.get(first["next"]).json()
    assert [p["title"] for p in second["results"]] == ["Watering"]
    assert second["next"] is None


def test_listing_item_shape(client, posts):
    item = client.get("/api/v1/blog/posts/?tag=pruning").json()["results"][0]

    assert item["slug"] == "pruning-lavender"
    assert item["url"] == "/blog/pruning-lavender/"
    assert item["authors"][0]["name"] == "Tomasz Nowak"
    assert item["categories"] == [{"id": item["categories"][0]["id"], "name": "Garden", "slug": "garden"}]
    assert item["tags"] == ["pruning"]
    assert "body" not in item


def test_detail_has_body_html_and_related_species(client):
    species = make_species_page()
    make_post("Repotting", related_species=[species], body=[
        ("paragraph", "<p>Go <b>one</b> size up.</p>"),
        ("image", {"image": make_image("roots"), "caption": "Roots", "credit": "generated for Plant Community", "alt": ""}),
        ("embed", {"url": "https://www.youtube.com/watch?v=abcdefghijk", "caption": "How to"}),
    ])

    body = client.get("/api/v1/blog/posts/repotting/").json()

    assert body["body"][0]["value"] == "<p>Go <b>one</b> size up.</p>"
    assert body["body"][1]["value"]["image"]["renditions"]["medium"]["url"].startswith("http")
    assert body["body"][2]["value"] == {"url": "https://www.youtube.com/watch?v=abcdefghijk", "caption": "How to"}
    assert body["related_species"][0]["scientific_name"] == "Monstera deliciosa"


def test_draft_detail_is_404_envelope(client, posts):
    response = client.get("/api/v1/blog/posts/draft/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_listing_queries_do_not_grow_with_posts(client):
    def rich(n):
        make_post(f"Post {n}", authors=[make_author(f"A{n}", portrait=make_image(f"p{n}"))], categories=[make_category(f"C{n}")],
                  tags=[f"t{n}"], hero_image=make_image(f"h{n}"), related_species=[species], series=make_series())

    def count():
        client.get("/api/v1/blog/posts/")  # creates new images' renditions once
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/api/v1/blog/posts/")
        return len(queries), len(response.json()["results"])

    species = make_species_page()
    rich(0)
    one = count()
    for n in range(1, 10):
        rich(n)
    ten = count()

    assert (one[1], ten[1]) == (1, 10)
    assert ten[0] == one[0]


def test_vocabularies_count_published_posts(client, posts):
    categories = client.get("/api/v1/blog/categories/").json()["results"]
    tags = client.get("/api/v1/blog/tags/").json()["results"]
    authors = client.get("/api/v1/blog/authors/").json()["results"]
    series = client.get("/api/v1/blog/series/").json()["results"]

    assert {c["slug"]: c["post_count"] for c in categories} == {"garden": 1, "houseplant-care": 2}
    assert tags[0] == {"name": "beginners", "slug": "beginners", "post_count": 2}
    assert {a["slug"]: a["post_count"] for a in authors} == {"mara-lindqvist": 2, "tomasz-nowak": 1}
    assert series[0]["post_count"] == 2


@pytest.mark.parametrize(
    "query",
    ["colour=green", "page=abc", "page=0", "page_size=500", "tag=<script>", "category=" + "x" * 200, "author=a%00b"],
)
def test_bad_queries_answer_400_envelope(client, posts, query):
    response = client.get(f"/api/v1/blog/posts/?{query}")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["errors"]


def test_listing_is_public_even_with_a_session_less_client(client, posts):
    assert client.get("/api/v1/blog/posts/", HTTP_AUTHORIZATION="").status_code == 200
