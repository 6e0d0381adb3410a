"""/api/v1/garden/plants/: the member's collection, owner only, strict input."""

from __future__ import annotations

import uuid

import pytest

from plant_cms.garden.models import CareEvent, CareTask, GardenPlant

PLANTS = "/api/v1/garden/plants/"
pytestmark = pytest.mark.django_db


def test_a_member_adds_a_plant_and_reads_it_back(member):
    request_id = str(uuid.uuid4())

    created = member.post(PLANTS, {"nickname": "Big Fern", "location": "Hall", "acquired_on": "2025-04-01", "notes": "From Grandma.", "identification_request_id": request_id})

    assert created.status_code == 201
    body = created.json()
    assert body["nickname"] == "Big Fern" and body["location"] == "Hall" and body["identification_request_id"] == request_id
    assert body["species"] is None and body["warnings"] == [] and body["photos"] == []
    assert "create_care_tasks" not in body and "owner_sub" not in body
    read = member.get(f"{PLANTS}{body['id']}/")
    assert read.status_code == 200 and read.json()["notes"] == "From Grandma."
    assert GardenPlant.objects.get(pk=body["id"]).owner_sub == member.sub


def test_the_list_holds_only_the_members_own_plants_paginated(member, other_member):
    for n in range(3):
        member.add_plant(nickname=f"Mine {n}")
    other_member.add_plant(nickname="Theirs")

    page = member.get(PLANTS, {"limit": 2})

    body = page.json()
    assert page.status_code == 200 and body["count"] == 3 and len(body["results"]) == 2 and body["next"]
    assert all(item["nickname"].startswith("Mine") for item in body["results"])


def test_filters_and_ordering(member, make_species):
    species = make_species("Ficus lyrata")
    member.add_plant(nickname="Zed", species_id=species.pk, location="Kitchen", create_care_tasks=False)
    member.add_plant(nickname="Alpha", location="Hall")

    by_species = member.get(PLANTS, {"species": species.pk}).json()["results"]
    without = member.get(PLANTS, {"has_species": "false"}).json()["results"]
    words = member.get(PLANTS, {"q": "kitch"}).json()["results"]
    ordered = member.get(PLANTS, {"ordering": "nickname"}).json()["results"]

    assert [p["nickname"] for p in by_species] == ["Zed"]
    assert [p["nickname"] for p in without] == ["Alpha"]
    assert [p["nickname"] for p in words] == ["Zed"]
    assert [p["nickname"] for p in ordered] == ["Alpha", "Zed"]


@pytest.mark.parametrize("method", ["get", "patch", "put", "delete"])
def test_another_members_plant_is_not_found_never_forbidden(member, other_member, method):
    plant = other_member.add_plant(nickname="Private")
    url = f"{PLANTS}{plant['id']}/"

    response = getattr(member, method)(url, **({"data": {"nickname": "Mine now"}} if method in ("patch", "put") else {}))

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert GardenPlant.objects.get(pk=plant["id"]).nickname == "Private"


def test_an_unknown_or_malformed_id_is_not_found(member):
    assert member.get(f"{PLANTS}{uuid.uuid4()}/").status_code == 404
    assert member.get(f"{PLANTS}not-a-uuid/").status_code == 404


def test_update_and_delete(member):
    plant = member.add_plant(nickname="Old")

    patched = member.patch(f"{PLANTS}{plant['id']}/", {"nickname": "New", "location": ""})
    deleted = member.delete(f"{PLANTS}{plant['id']}/")

    assert patched.status_code == 200 and patched.json()["nickname"] == "New"
    assert deleted.status_code == 204 and not GardenPlant.objects.filter(pk=plant["id"]).exists()


# --- Bad input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"nickname": "Fern", "nickame": "typo"}, "nickame", "Unknown field."),
        ({"nickname": "Fern", "owner_sub": str(uuid.uuid4())}, "owner_sub", "Unknown field."),
        ({"nickname": "Fern", "id": str(uuid.uuid4())}, "id", "This field is read-only."),
        ({"nickname": "Fern", "warnings": []}, "warnings", "This field is read-only."),
        ({"nickname": 42}, "nickname", None),
        ({"nickname": ["a"]}, "nickname", None),
        ({"nickname": "Fern", "acquired_on": "yesterday"}, "acquired_on", None),
        ({"nickname": "Fern", "acquired_on": "2999-01-01"}, "acquired_on", None),
        ({"nickname": "Fern", "identification_request_id": "abc"}, "identification_request_id", None),
        ({"nickname": "Fern", "species_id": "one"}, "species_id", None),
        ({"nickname": "Fern", "species_id": 999999}, "species_id", None),
        ({"nickname": "Fern", "species_name": "Nonexistus imaginarius"}, "species_name", None),
        ({"nickname": "x" * 101}, "nickname", None),
        ({"nickname": "Fern", "notes": "n" * 5001}, "notes", None),
        ({"nickname": "<script>alert(1)</script>"}, "nickname", None),
        ({}, "nickname", None),
    ],
)
def test_bad_input_is_a_clear_400_and_stores_nothing(member, body, field, message):
    response = member.post(PLANTS, body)

    assert response.status_code == 400, response.content
    payload = response.json()
    assert payload["code"] == "validation_error" and field in payload["errors"]
    if message:
        assert payload["errors"][field] == [message]
    assert not GardenPlant.objects.filter(owner_sub=member.sub).exists()


def test_a_body_that_is_not_an_object_is_400(member):
    response = member.client.post(PLANTS, "[1, 2]", content_type="application/json", **member.auth)
    broken = member.client.post(PLANTS, "{nickname: ", content_type="application/json", **member.auth)

    assert response.status_code == 400 and broken.status_code == 400
    assert broken.json()["code"] == "parse_error"


def test_a_huge_body_is_refused(member):
    response = member.client.post(PLANTS, '{"nickname": "' + "x" * 3_000_000 + '"}', content_type="application/json", **member.auth)

    assert response.status_code in (400, 413)
    assert not GardenPlant.objects.filter(owner_sub=member.sub).exists()


def test_html_in_text_fields_is_stored_as_plain_text(member):
    plant = member.add_plant(
        nickname='<b>Bold</b> fern <img src=x onerror="alert(1)">',
        location="Kitchen & hall <script>steal()</script>",
        notes="Water < 2 times a week.\n<iframe src=//evil></iframe>&lt;script&gt;x&lt;/script&gt;Done",
    )

    stored = GardenPlant.objects.get(pk=plant["id"])
    assert stored.nickname == "Bold fern"
    assert stored.location == "Kitchen & hall"
    assert stored.notes == "Water < 2 times a week.\nDone"
    assert "<" not in plant["nickname"] and plant["notes"] == stored.notes


def test_species_by_scientific_name_or_synonym_any_case(member, make_species):
    from plant_cms.species.models import Synonym

    species = make_species("Dracaena trifasciata")
    Synonym.objects.create(species=species, name="Sansevieria trifasciata")

    by_name = member.add_plant(species_name="dracaena  TRIFASCIATA", create_care_tasks=False)
    by_synonym = member.add_plant(species_name="Sansevieria trifasciata", create_care_tasks=False)
    both = member.post(PLANTS, {"nickname": "x", "species_id": species.pk, "species_name": "Dracaena trifasciata"})

    assert by_name["species"]["id"] == species.pk and by_name["species_id"] == species.pk
    assert by_synonym["species"]["scientific_name"] == "Dracaena trifasciata"
    assert both.status_code == 400


def test_create_care_tasks_is_refused_on_update(member):
    plant = member.add_plant()

    response = member.patch(f"{PLANTS}{plant['id']}/", {"create_care_tasks": False})

    assert response.status_code == 400 and "create_care_tasks" in response.json()["errors"]


# --- Household safety --------------------------------------------------------------------------------


def test_a_toxic_species_warns_a_household_with_pets_and_children(member, make_species):
    species = make_species("Dieffenbachia seguine", toxicity_pets="moderate", toxicity_people="mild", toxicity_notes="Sap irritates.")
    member.patch("/api/v1/garden/profile/", {"has_pets": True, "has_children": True})

    created = member.post(PLANTS, {"nickname": "Dumb cane", "species_id": species.pk})

    warnings = created.json()["warnings"]
    assert created.status_code == 201
    assert [(w["code"], w["severity"]) for w in warnings] == [("toxic_to_pets", "moderate"), ("toxic_to_children", "mild")]
    assert "Dieffenbachia seguine" in warnings[0]["detail"] and "Sap irritates." in warnings[0]["detail"]


def test_no_warning_without_pets_or_children_or_for_safe_or_unknown_species(member, make_species):
    toxic = make_species("Dieffenbachia seguine", toxicity_pets="severe", toxicity_people="severe")
    safe = make_species("Chlorophytum comosum", toxicity_pets="non_toxic", toxicity_people="non_toxic")
    unknown = make_species("Unknownia plantae")

    assert member.add_plant(species_id=toxic.pk)["warnings"] == []  # no profile: no pets, no children
    member.patch("/api/v1/garden/profile/", {"has_pets": True})
    assert member.add_plant(species_id=safe.pk)["warnings"] == []
    assert member.add_plant(species_id=unknown.pk)["warnings"] == []
    assert [w["code"] for w in member.add_plant(species_id=toxic.pk)["warnings"]] == ["toxic_to_pets"]


# --- Care plan from the care guide -------------------------------------------------------------------


def test_adding_a_plant_with_a_species_schedules_its_care_guide(member, make_species, full_guide):
    species = make_species("Monstera deliciosa", care_guide=full_guide)

    plant = member.add_plant(species_id=species.pk)

    tasks = {t.kind: t for t in CareTask.objects.filter(plant_id=plant["id"])}
    assert set(tasks) == {"watering", "feeding", "repotting", "pruning", "misting"}
    assert (tasks["watering"].interval_days, tasks["watering"].dormant_interval_days) == (5, 12)
    assert tasks["feeding"].rrule == "FREQ=WEEKLY;INTERVAL=2;BYMONTH=4,5,6"
    assert tasks["repotting"].rrule == "FREQ=YEARLY;INTERVAL=3;BYMONTH=3;BYMONTHDAY=1"
    assert tasks["pruning"].rrule == "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=1"
    assert tasks["misting"].interval_days == 2
    assert all(t.origin == "care_guide" and t.next_due is not None for t in tasks.values())
    assert CareEvent.objects.filter(task__plant_id=plant["id"], status="pending").exists()


def test_a_species_without_a_published_guide_gets_default_tasks(member, make_species, full_guide):
    unpublished = make_species("Calathea orbifolia", care_guide=full_guide, live=False)
    no_page = make_species("Pilea peperomioides")

    for species in (unpublished, no_page):
        plant = member.add_plant(species_id=species.pk)
        tasks = {t.kind: t for t in CareTask.objects.filter(plant_id=plant["id"])}
        assert set(tasks) == {"watering", "feeding", "repotting"}
        assert (tasks["watering"].interval_days, tasks["watering"].dormant_interval_days) == (7, 14)


def test_southern_members_get_their_seasons(member, make_species, full_guide):
    species = make_species("Monstera deliciosa", care_guide=full_guide)
    member.patch("/api/v1/garden/profile/", {"hemisphere": "south"})

    plant = member.add_plant(species_id=species.pk)

    feeding = CareTask.objects.get(plant_id=plant["id"], kind="feeding")
    assert feeding.rrule == "FREQ=WEEKLY;INTERVAL=2;BYMONTH=10,11,12"


def test_no_tasks_without_a_species_or_when_declined(member, make_species):
    species = make_species()

    bare = member.add_plant()
    declined = member.add_plant(species_id=species.pk, create_care_tasks=False)

    assert not CareTask.objects.filter(plant_id__in=[bare["id"], declined["id"]]).exists()


def test_a_species_set_later_brings_its_care_plan_once(member, make_species):
    first, second = make_species("Ficus lyrata"), make_species("Ficus elastica")
    plant = member.add_plant()

    member.patch(f"{PLANTS}{plant['id']}/", {"species_id": first.pk})
    member.patch(f"{PLANTS}{plant['id']}/", {"species_id": second.pk})

    assert CareTask.objects.filter(plant_id=plant["id"], kind="watering").count() == 1


def test_deleting_a_plant_deletes_its_tasks_and_events(member, make_species):
    plant = member.add_plant(species_id=make_species().pk)

    member.delete(f"{PLANTS}{plant['id']}/")

    assert not CareTask.objects.filter(plant_id=plant["id"]).exists()
    assert not CareEvent.objects.filter(owner_sub=member.sub).exists()


def test_the_listing_costs_the_same_queries_for_1_or_10_plants(member, make_species, full_guide):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    species = make_species("Monstera deliciosa", care_guide=full_guide, toxicity_pets="mild")
    member.patch("/api/v1/garden/profile/", {"has_pets": True})
    member.add_plant(species_id=species.pk, create_care_tasks=False)
    with CaptureQueriesContext(connection) as one:
        assert member.get(PLANTS).json()["count"] == 1
    for n in range(9):
        member.add_plant(nickname=f"P{n}", species_id=species.pk if n % 2 else None, create_care_tasks=False)
    with CaptureQueriesContext(connection) as ten:
        body = member.get(PLANTS).json()

    assert body["count"] == 10 and body["results"][-1]["warnings"]
    assert len(ten) == len(one)
