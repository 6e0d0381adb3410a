"""Species records, the trigram indexes the migration creates, and care summaries."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from plant_cms.species.blocks import care_summary
from plant_cms.species.factories import make_species, make_species_page

pytestmark = pytest.mark.django_db


def test_migration_enables_pg_trgm_and_creates_trigram_indexes():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        assert cursor.fetchone() is not None
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE indexname LIKE %s", ["species_%trgm"])
        indexes = dict(cursor.fetchall())

    assert set(indexes) == {"species_sciname_trgm", "species_commonname_trgm", "species_synonym_trgm"}
    assert all("USING gin" in d and "gin_trgm_ops" in d for d in indexes.values())


def test_trigram_index_serves_fuzzy_name_lookups():
    make_species()
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("EXPLAIN SELECT id FROM species_plantspecies WHERE %s <%% scientific_name", ["monstra"])
        plan = " ".join(row[0] for row in cursor.fetchall())
        cursor.execute("SET enable_seqscan = on")

    assert "species_sciname_trgm" in plan


def test_scientific_name_is_unique():
    make_species("Aloe vera")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_species("Aloe vera")


def test_common_names_are_grouped_by_language_in_editor_order():
    species = make_species(common={"en": ["Swiss cheese plant", "Split-leaf philodendron"], "de": ["Fensterblatt"]})

    assert species.common_names_by_language() == {"en": ["Swiss cheese plant", "Split-leaf philodendron"], "de": ["Fensterblatt"]}


def test_care_summary_gives_the_values_a_calendar_schedules_from():
    page = make_species_page(care_guide=[
        ("watering", {"summary": "Weekly.", "details": "", "interval_days_growing": 7, "interval_days_dormant": 14}),
        ("feeding", {"summary": "Monthly.", "details": "", "interval_weeks": 4, "months": ["5", "4", "6"], "fertiliser": "Balanced"}),
        ("soil", {"summary": "Chunky.", "details": "", "mix": "bark", "ph_min": "5.5", "ph_max": "7.0", "repot_every_years": 2}),
        ("pests_and_diseases", {"summary": "Mites.", "details": "", "problems": [{"name": "Spider mites", "kind": "pest", "symptoms": "webs", "treatment": "shower"}]}),
        ("seasonal_tasks", {"tasks": [{"month": "3", "task": "Repot"}]}),
    ])

    summary = care_summary(page.care_guide)

    assert summary["watering"] == {"summary": "Weekly.", "interval_days_growing": 7, "interval_days_dormant": 14}
    assert summary["feeding"]["months"] == [4, 5, 6]
    assert summary["soil"]["ph_min"] == 5.5
    assert summary["pests_and_diseases"]["problems"] == [{"name": "Spider mites", "kind": "pest"}]
    assert summary["seasonal_tasks"] == [{"month": 3, "task": "Repot"}]


def test_a_species_has_at_most_one_page():
    species = make_species()
    make_species_page(species)
    with pytest.raises((IntegrityError, ValidationError)), transaction.atomic():
        make_species_page(species, slug="again")


def test_markup_in_species_fields_is_refused():
    from plant_cms.species.models import PlantSpecies

    species = PlantSpecies(scientific_name="Aloe vera", family="Asphodelaceae", genus="Aloe", toxicity_notes="<img src=x onerror=alert(1)>")
    with pytest.raises(ValidationError) as refused:
        species.full_clean()

    assert "toxicity_notes" in refused.value.message_dict
