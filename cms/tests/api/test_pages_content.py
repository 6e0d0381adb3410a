"""What the pages API shows: every field, rich text as HTML, image renditions (also inside
StreamField blocks), find-by-path, redirects, and the platform's error envelope for bad input."""

import pytest
from wagtail.contrib.redirects.models import Redirect

from plant_cms.blog.factories import make_author, make_category, make_post
from plant_cms.images import RENDITIONS
from plant_cms.species.factories import make_image, make_species, make_species_page

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("api_uncached")]


def detail(client, page):
    response = client.get(f"/api/v2/pages/{page.pk}/")
    assert response.status_code == 200, response.content
    return response.json()


def test_post_detail_exposes_every_field(client):
    species_page = make_species_page()
    post = make_post(
        "Repotting", hero_image=make_image("hero"), hero_credit="generated for Plant Community",
        authors=[make_author("Mara")], categories=[make_category("Care")], tags=["repotting", "pots"],
        related_species=[species_page],
    )

    body = detail(client, post)

    assert body["meta"]["type"] == "blog.BlogPostPage"
    for field in ("date", "intro", "hero_image", "hero_credit", "body", "authors", "categories", "series", "series_position", "tags", "related_species", "reading_time_minutes"):
        assert field in body, field
    assert body["authors"][0]["name"] == "Mara"
    assert body["categories"][0]["slug"] == "care"
    assert body["tags"] == ["pots", "repotting"]
    assert body["related_species"] == [{"id": species_page.pk, "title": "Monstera deliciosa", "slug": "monstera-deliciosa", "scientific_name": "Monstera deliciosa"}]


def test_rich_text_is_ready_to_render_html_with_page_links_resolved(client):
    target = make_species_page()
    post = make_post(body=[("paragraph", f'<p>See <a linktype="page" id="{target.pk}">the monstera</a>.</p>')])

    paragraph = detail(client, post)["body"][0]["value"]

    assert 'href="/plants/monstera-deliciosa/"' in paragraph
    assert "linktype" not in paragraph


def test_images_carry_every_rendition_with_urls_in_fields_and_blocks(client):
    post = make_post(hero_image=make_image("hero", size=(1800, 1200)), body=[("image", {"image": make_image("inline"), "caption": "Roots", "credit": "me", "alt": ""})])

    body = detail(client, post)

    hero = body["hero_image"]
    assert set(hero["renditions"]) == set(RENDITIONS)
    assert hero["renditions"]["thumbnail"]["width"] == 320
    assert hero["renditions"]["large"]["url"].startswith("http")
    block = body["body"][0]["value"]
    assert block["caption"] == "Roots" and block["credit"] == "me"
    assert set(block["image"]["renditions"]) == set(RENDITIONS)
    assert block["image"]["renditions"]["small"]["url"].endswith(".jpg")


def test_species_page_exposes_the_record_and_care_guide(client):
    species = make_species("Dracaena trifasciata", family="Asparagaceae", common={"en": ["Snake plant"], "de": ["Bogenhanf"]}, synonyms=["Sansevieria trifasciata"],
                           gbif_key=2773780, powo_id="x-1", toxicity_people="mild", toxicity_pets="mild")
    page = make_species_page(species)

    body = detail(client, page)

    assert body["species"]["common_names"] == {"en": ["Snake plant"], "de": ["Bogenhanf"]}
    assert body["species"]["synonyms"] == ["Sansevieria trifasciata"]
    assert body["species"]["gbif_key"] == 2773780
    assert body["species"]["toxicity"] == {"people": "mild", "pets": "mild", "notes": ""}
    assert body["care_guide"][0]["value"]["details"] == "<p>Drain <b>well</b>.</p>"
    assert body["care_summary"]["watering"] == {"summary": "Water when the top 5 cm are dry.", "interval_days_growing": 7, "interval_days_dormant": 14}


def test_find_by_path_redirects_to_the_page(client):
    post = make_post("Found me")

    response = client.get("/api/v2/pages/find/?html_path=/blog/found-me/")

    assert response.status_code == 302
    assert f"/api/v2/pages/{post.pk}/" in response["Location"]


def test_redirects_endpoint_finds_a_redirect_by_path(client):
    Redirect.objects.create(old_path="/old-guide", redirect_link="/plants/new-guide/")

    found = client.get("/api/v2/redirects/find/?html_path=/old-guide/")
    assert found.status_code == 302, found.content
    redirect = client.get(found["Location"].replace("http://localhost:8000", ""))

    assert redirect.status_code == 200
    assert redirect.json()["location"] == "/plants/new-guide/"


def test_seed_endpoints_list_one_page_type_each(client):
    make_post()
    make_species_page()

    posts = client.get("/api/v2/blog-posts/?fields=*").json()["items"]
    species = client.get("/api/v2/plant-species/").json()["items"]

    assert [p["meta"]["type"] for p in posts] == ["blog.BlogPostPage"]
    assert [p["meta"]["type"] for p in species] == ["species.SpeciesPage"]


def test_drafts_are_not_in_the_api(client):
    make_post("Secret draft", publish=False)

    titles = [p["title"] for p in client.get("/api/v2/pages/?type=blog.BlogPostPage").json()["items"]]

    assert "Secret draft" not in titles


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("type=blog.BlogPostPage&fields=colour", "unknown fields: colour"),
        ("type=blog.NoSuchPage", "type doesn't exist"),
        ("limit=abc", "limit must be a positive integer"),
        ("limit=1000", "limit cannot be higher than"),
        ("type=blog.BlogPostPage&fields=intro(name)", "does not support nested fields"),
    ],
)
def test_bad_query_answers_the_envelope(client, query, fragment):
    response = client.get(f"/api/v2/pages/?{query}")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "bad_request"
    assert fragment in body["detail"]
