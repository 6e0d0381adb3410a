"""The demo content command the local stack runs on every start."""

import pytest
from django.core.management import call_command

from plant_cms.blog.models import BlogPostPage
from plant_cms.species.models import PlantSpecies, SpeciesPage

pytestmark = pytest.mark.django_db


def test_load_demo_content_creates_the_catalogue_and_blog_and_is_idempotent(client, settings):
    settings.API_CACHE_SECONDS = 0
    call_command("load_demo_content", "--no-renditions", stdout=open("/dev/null", "w"))
    counts = (PlantSpecies.objects.count(), SpeciesPage.objects.live().count(), BlogPostPage.objects.live().count())

    call_command("load_demo_content", "--no-renditions", stdout=open("/dev/null", "w"))

    assert counts == (30, 30, 10)
    assert (PlantSpecies.objects.count(), SpeciesPage.objects.live().count(), BlogPostPage.objects.live().count()) == counts
    page = SpeciesPage.objects.get(species__scientific_name="Dracaena trifasciata")
    assert page.hero_image is not None and page.hero_credit == "Illustration generated for Plant Community"
    assert {block.block_type for block in page.care_guide} >= {"light", "watering", "soil", "humidity", "temperature", "feeding", "pruning", "propagation", "pests_and_diseases", "seasonal_tasks"}
    found = client.get("/api/v1/search/?q=sansevieria").json()["results"]
    assert found[0]["title"] == "Dracaena trifasciata"
    posts = client.get("/api/v1/blog/posts/?series=houseplants-for-beginners").json()
    assert posts["count"] == 3
