"""Garden fixtures: species with (or without) a published care guide (members: ../conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def catalogue(db):
    """The catalogue index page under the home page (created once per test)."""
    from plant_cms.core.models import HomePage
    from plant_cms.species.models import PlantCatalogueIndexPage

    home = HomePage.objects.first()
    index = PlantCatalogueIndexPage.objects.first()
    if index is None:
        index = home.add_child(instance=PlantCatalogueIndexPage(title="Plants", slug="plants"))
    return index


@pytest.fixture
def make_species(db, catalogue):
    """`make_species(name, toxicity_pets=..., care_guide=[...] | None, live=True)`: a species, and a
    species page carrying `care_guide` (raw StreamField data) unless it is None."""
    from plant_cms.species.models import PlantSpecies, SpeciesPage

    def make(name: str = "Monstera deliciosa", *, care_guide: list[dict[str, Any]] | None = None, live: bool = True, **fields: Any) -> PlantSpecies:
        species = PlantSpecies.objects.create(scientific_name=name, family=fields.pop("family", "Araceae"), genus=name.split()[0], **fields)
        if care_guide is not None:
            page = SpeciesPage(title=name, slug=name.lower().replace(" ", "-"), species=species, overview="<p>A plant.</p>", care_guide=care_guide, live=live)
            catalogue.add_child(instance=page)
        return species

    return make


WATERING = {"type": "watering", "value": {"summary": "Water when dry.", "details": "", "interval_days_growing": 5, "interval_days_dormant": 12}}
FEEDING = {"type": "feeding", "value": {"summary": "Feed monthly.", "details": "", "interval_weeks": 2, "months": ["4", "5", "6"], "fertiliser": ""}}
SOIL = {"type": "soil", "value": {"summary": "Chunky.", "details": "", "mix": "bark", "ph_min": None, "ph_max": None, "repot_every_years": 3}}
PRUNING = {"type": "pruning", "value": {"summary": "Prune in spring.", "details": "", "months": ["3", "4"]}}
HUMID = {"type": "humidity", "value": {"summary": "Likes it humid.", "details": "", "level": "high"}}


@pytest.fixture
def full_guide() -> list[dict[str, Any]]:
    return [WATERING, FEEDING, SOIL, PRUNING, HUMID]
