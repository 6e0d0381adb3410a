"""Editors can open every editorial model in the Wagtail admin, and Preview reaches the frontend."""

import pytest
from django.contrib.auth import get_user_model

from plant_cms.blog.factories import blog_index, make_author, make_category, make_post
from plant_cms.species.factories import catalogue, make_species, make_species_page

pytestmark = pytest.mark.django_db


@pytest.fixture
def editor(client):
    user = get_user_model().objects.create_superuser("editor", "editor@example.test", None)
    client.force_login(user)
    return client


def test_page_edit_forms_render(editor):
    pages = [catalogue(), make_species_page(), blog_index(), make_post(authors=[make_author()], categories=[make_category()], tags=["x"])]

    for page in pages:
        response = editor.get(f"/cms/pages/{page.pk}/edit/")
        assert response.status_code == 200, (type(page).__name__, response.status_code)


@pytest.mark.parametrize("model", ["blog/blogpostpage", "blog/blogcategorypage", "species/speciespage", "species/plantcategorypage"])
def test_page_create_forms_render(editor, model):
    parent = blog_index() if model.startswith("blog") else catalogue()

    response = editor.get(f"/cms/pages/add/{model}/{parent.pk}/")

    assert response.status_code == 200


def test_species_snippet_listing_and_edit_render(editor):
    species = make_species(common={"en": ["Swiss cheese plant"]}, synonyms=["Philodendron pertusum"])

    assert editor.get("/cms/snippets/species/plantspecies/").status_code == 200
    response = editor.get(f"/cms/snippets/species/plantspecies/edit/{species.pk}/")
    assert response.status_code == 200
    assert b"Swiss cheese plant" in response.content


def test_admin_preview_shows_the_frontend_with_a_token(editor, settings):
    settings.PREVIEW_FRONTEND_URL = "https://frontend.example.test/preview"
    post = make_post("Preview me")

    response = editor.get(f"/cms/pages/{post.pk}/view_draft/")

    assert response.status_code == 200
    assert b"https://frontend.example.test/preview?token=" in response.content
