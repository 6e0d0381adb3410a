"""POST /api/v1/internal/species/lookup/: names and GBIF keys → species pages and care summaries,
for the identification gateway's service token only."""

import pytest

from plant_cms.species.factories import make_species, make_species_page

pytestmark = pytest.mark.django_db

URL = "/api/v1/internal/species/lookup/"


@pytest.fixture
def catalogue():
    monstera = make_species_page(make_species(common={"en": ["Swiss cheese plant"]}, gbif_key=2868241))
    snake = make_species_page(make_species("Dracaena trifasciata", family="Asparagaceae", synonyms=["Sansevieria trifasciata"], gbif_key=2773780))
    unpublished = make_species_page(make_species("Aloe vera", family="Asphodelaceae"), publish=False)
    return monstera, snake, unpublished


@pytest.fixture
def gateway(platform):
    return {"HTTP_AUTHORIZATION": f"Bearer {platform.service_token(client_id='identify-gateway')}"}


def lookup(client, body, headers):
    return client.post(URL, body, content_type="application/json", **headers)


def test_names_synonyms_and_keys_resolve_in_one_call(client, catalogue, gateway):
    monstera, snake, _ = catalogue

    response = lookup(client, {"names": ["Monstera deliciosa Liebm.", "sansevieria trifasciata", "Nonexistent plant"], "gbif_keys": [2773780, 999]}, gateway)

    assert response.status_code == 200, response.content
    body = response.json()
    results = [(r["query"]["name"] or r["query"]["gbif_key"], r["match"], r["page"]["id"]) for r in body["results"]]
    assert results == [
        ("Monstera deliciosa Liebm.", "scientific_name", monstera.pk),
        ("sansevieria trifasciata", "synonym", snake.pk),
        (2773780, "gbif_key", snake.pk),
    ]
    assert body["unmatched"] == {"names": ["Nonexistent plant"], "gbif_keys": [999]}
    first = body["results"][0]
    assert first["species"]["common_names"] == {"en": ["Swiss cheese plant"]}
    assert first["care_summary"]["watering"]["interval_days_growing"] == 7
    assert first["page"]["api_url"] == f"/api/v2/pages/{monstera.pk}/"


def test_a_species_without_a_published_page_matches_without_page(client, catalogue, gateway):
    result = lookup(client, {"names": ["Aloe vera"]}, gateway).json()["results"][0]

    assert result["species"]["scientific_name"] == "Aloe vera"
    assert result["page"] is None and result["care_summary"] is None


def test_without_a_token_it_is_401(client, catalogue, platform):
    response = lookup(client, {"names": ["Aloe vera"]}, {})

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("who", ["member", "other_service", "no_internal_scope"])
def test_other_identities_are_forbidden(client, catalogue, platform, who):
    token = {
        "member": lambda: platform.mint(),
        "other_service": lambda: platform.service_token(client_id="svc-other"),
        "no_internal_scope": lambda: platform.service_token(client_id="identify-gateway", scope="read"),
    }[who]()

    response = lookup(client, {"names": ["Aloe vera"]}, {"HTTP_AUTHORIZATION": f"Bearer {token}"})

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"names": []},
        {"names": ["x"] * 51},
        {"gbif_keys": list(range(1, 52))},
        {"names": "Aloe vera"},
        {"names": [{"a": 1}]},
        {"gbif_keys": ["abc"]},
        {"gbif_keys": [-1]},
        {"names": ["x" * 201]},
        {"names": ["Aloe vera"], "colour": "green"},
        ["Aloe vera"],
    ],
)
def test_bad_bodies_are_400(client, catalogue, gateway, body):
    response = lookup(client, body, gateway)

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


def test_malformed_json_is_400(client, gateway):
    response = client.post(URL, "{not json", content_type="application/json", **gateway)

    assert response.status_code == 400
