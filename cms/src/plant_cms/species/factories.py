"""Factories for tests (and shells): species records and published species pages."""

from __future__ import annotations

import io
from typing import Any

from django.core.files.images import ImageFile
from django.utils.text import slugify
from PIL import Image as PILImage
from wagtail.images import get_image_model
from wagtail.models import Page, Site

from plant_cms.species.models import CommonName, PlantCatalogueIndexPage, PlantSpecies, SpeciesPage, Synonym


def make_image(title: str = "Leaf", *, size: tuple[int, int] = (640, 480), colour: str = "seagreen") -> Any:
    """A small generated JPEG saved as a Wagtail image."""
    buffer = io.BytesIO()
    PILImage.new("RGB", size, colour).save(buffer, format="JPEG")
    image = get_image_model()(title=title)
    image.file = ImageFile(io.BytesIO(buffer.getvalue()), name=f"{slugify(title) or 'image'}.jpg")
    image.save()
    return image


def make_species(scientific_name: str = "Monstera deliciosa", *, common: dict[str, list[str]] | None = None, synonyms: list[str] | None = None, **fields: Any) -> PlantSpecies:
    species = PlantSpecies(
        scientific_name=scientific_name,
        genus=scientific_name.split()[0],
        family=fields.pop("family", "Araceae"),
        **fields,
    )
    species.common_names = [CommonName(language=lang, name=name) for lang, names in (common or {}).items() for name in names]
    species.synonyms = [Synonym(name=name) for name in (synonyms or [])]
    species.save()
    return species


def catalogue() -> PlantCatalogueIndexPage:
    """The catalogue index under the default site's home page (created on first use)."""
    existing = PlantCatalogueIndexPage.objects.first()
    if existing:
        return existing
    home = Site.objects.get(is_default_site=True).root_page
    page = PlantCatalogueIndexPage(title="Plants", slug="plants")
    home.add_child(instance=page)
    page.save_revision().publish()
    return page


WATERING = ("watering", {"summary": "Water when the top 5 cm are dry.", "details": "<p>Drain <b>well</b>.</p>", "interval_days_growing": 7, "interval_days_dormant": 14})


def make_species_page(species: PlantSpecies | None = None, *, parent: Page | None = None, publish: bool = True, care_guide: list[Any] | None = None, **fields: Any) -> SpeciesPage:
    species = species or make_species()
    page = SpeciesPage(
        title=fields.pop("title", species.scientific_name),
        slug=fields.pop("slug", slugify(species.scientific_name)),
        species=species,
        overview=fields.pop("overview", "<p>A climbing aroid.</p>"),
        care_guide=care_guide if care_guide is not None else [WATERING, ("light", {"summary": "Bright, indirect.", "details": "", "level": "bright_indirect"})],
        **fields,
    )
    page.live = publish  # a draft is never live, not even before its first publication
    (parent or catalogue()).add_child(instance=page)
    revision = page.save_revision()
    if publish:
        revision.publish()
        page.refresh_from_db()
    return page
