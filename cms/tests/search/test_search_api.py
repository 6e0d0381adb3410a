"""GET /api/v1/search/?q=: one ranked list over species and posts, typo tolerant, with highlights,
facets by type and pagination."""

import pytest

from plant_cms.blog.factories import make_post
from plant_cms.species.factories import make_species, make_species_page

pytestmark = pytest.mark.django_db


@pytest.fixture
def content():
    make_species_page(make_species("Monstera deliciosa", common={"en": ["Swiss cheese plant"], "de": ["Fensterblatt"]}))
    make_species_page(make_species("Monstera adansonii", common={"en": ["Five holes plant"]}))
    make_species_page(make_species("Dracaena trifasciata", family="Asparagaceae", common={"en": ["Snake plant"]}, synonyms=["Sansevieria trifasciata"]))
    make_species("Philodendron hederaceum", common={"en": ["Heartleaf philodendron"]})  # a record without a page
    make_post("Why your monstera leaves have no holes", intro="Light and age make the splits.")
    make_post("Watering basics", intro="The finger test.", body=[("paragraph", "<p>A thirsty <b>Monstera</b> droops.</p>")])
    make_post("Unpublished monstera secrets", publish=False)


def search(client, query):
    response = client.get(f"/api/v1/search/?{query}")
    assert response.status_code == 200, response.content
    return response.json()


def titles(body):
    return [r["title"] for r in body["results"]]


def test_exact_name_ranks_the_species_first(client, content):
    body = search(client, "q=monstera deliciosa")

    assert titles(body)[0] == "Monstera deliciosa"


def test_a_genus_finds_every_species_and_the_posts(client, content):
    body = search(client, "q=monstera")

    assert set(titles(body)[:2]) == {"Monstera deliciosa", "Monstera adansonii"}
    assert "Why your monstera leaves have no holes" in titles(body)
    assert "Watering basics" in titles(body)  # found in the body text
    assert "Unpublished monstera secrets" not in titles(body)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("monstra", "Monstera deliciosa"),  # typo
        ("monstera delicosa", "Monstera deliciosa"),  # typo in the epithet
        ("delic", "Monstera deliciosa"),  # partial word
        ("swiss cheese", "Monstera deliciosa"),  # common name
        ("fensterblatt", "Monstera deliciosa"),  # common name in another language
        ("sansevieria", "Dracaena trifasciata"),  # synonym
        ("snake plnt", "Dracaena trifasciata"),
        ("philodendron", "Philodendron hederaceum"),
    ],
)
def test_typos_partial_words_common_names_and_synonyms(client, content, query, expected):
    assert titles(search(client, f"q={query}"))[0] == expected


def test_results_carry_highlights_page_links_and_type(client, content):
    body = search(client, "q=sansevieria")
    first = body["results"][0]

    assert first["type"] == "species"
    assert first["highlights"]["synonyms"] == ["<mark>Sansevieria</mark> trifasciata"]
    assert first["page"]["url"] == "/plants/dracaena-trifasciata/"
    assert first["subtitle"] == "Snake plant"
    fuzzy = search(client, "q=monstra")["results"][0]
    assert fuzzy["highlights"]["title"] == "<mark>Monstera</mark> deliciosa"


def test_a_record_without_a_page_has_no_link(client, content):
    result = search(client, "q=philodendron")["results"][0]

    assert result["page"] is None


def test_facets_count_each_type_and_the_type_filter_keeps_them(client, content):
    everything = search(client, "q=monstera")
    species_only = search(client, "q=monstera&type=species")

    assert everything["facets"] == {"type": {"species": 2, "post": 2}}
    assert everything["count"] == 4
    assert species_only["facets"] == everything["facets"]
    assert species_only["count"] == 2
    assert {r["type"] for r in species_only["results"]} == {"species"}


def test_pagination(client, content):
    first = search(client, "q=monstera&page_size=3")
    second = client.get(first["next"]).json()

    assert len(first["results"]) == 3 and first["previous"] is None
    assert len(second["results"]) == 1 and second["next"] is None
    assert second["previous"] is not None
    assert {r["title"] for r in first["results"] + second["results"]} == set(titles(search(client, "q=monstera")))
    past_the_end = search(client, "q=monstera&page=9")
    assert past_the_end["results"] == [] and past_the_end["facets"]["type"]["species"] == 2


def test_no_match_is_an_empty_list(client, content):
    body = search(client, "q=xylophone")

    assert body == {"query": "xylophone", "count": 0, "facets": {"type": {"species": 0, "post": 0}}, "next": None, "previous": None, "results": []}


def test_markup_in_content_is_escaped_in_highlights(client):
    make_post("<script>alert(1)</script> monstera tips")

    result = search(client, "q=monstera")["results"][0]

    assert "<script>" not in result["highlights"]["title"]
    assert result["highlights"]["title"].startswith("&lt;script&gt;")


def test_like_wildcards_in_the_query_are_literal(client, content):
    assert search(client, "q=%25%25")["results"] == []
    assert search(client, "q=__")["results"] == []


@pytest.mark.parametrize(
    "query",
    ["", "q=", "q=a", "q=%20%20", "q=" + "m" * 101, "q=monstera&colour=green", "q=monstera&type=genus", "q=monstera&page=0", "q=monstera&page_size=51", "q=monstera&page=x", "q=mon%00stera"],
)
def test_missing_short_long_or_unknown_parameters_are_400(client, query):
    response = client.get(f"/api/v1/search/?{query}")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["errors"]
