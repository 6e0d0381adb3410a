"""Merging engine answers: one ranked list, combined confidence, provenance, care instructions."""

from __future__ import annotations

from identify_gateway.engines.base import Candidate, EngineResult, SimilarImage
from identify_gateway.engines.cms import SpeciesPage
from identify_gateway.engines.gbif import GbifMatch
from identify_gateway.identify.merge import EngineOutcome, merge


def result(engine: str, *candidates: Candidate, **kw: object) -> EngineOutcome:
    return EngineOutcome("ok", EngineResult(engine=engine, candidates=candidates, **kw))  # type: ignore[arg-type]


def gbif(name: str, accepted: str, key: int) -> GbifMatch:
    return GbifMatch(usage_key=key + 1 if name != accepted else key, canonical_name=name, scientific_name=name, rank="SPECIES",
                     status="SYNONYM" if name != accepted else "ACCEPTED", match_type="EXACT", confidence=98,
                     family=None, genus=accepted.split()[0], species=accepted, species_key=key)  # fmt: skip


def test_agreeing_engines_rank_a_species_first_with_weighted_confidence() -> None:
    outcomes = {
        "plant_id": result("plant_id", Candidate("Aloe vera", 0.9, ("Aloe",)), Candidate("Agave americana", 0.05)),
        "plantnet": result("plantnet", Candidate("Aloe vera", 0.5), Candidate("Haworthia attenuata", 0.3)),
    }

    body = merge(outcomes, gbif={}, pages=[], enrichment={}, health=False)

    top = body["suggestions"][0]
    assert top["scientific_name"] == "Aloe vera" and top["plant_name"] == "Aloe"
    assert top["confidence"] == round(0.6 * 0.9 + 0.4 * 0.5, 4)
    assert [(s["engine"], s["score"], s["rank"]) for s in top["sources"]] == [("plant_id", 0.9, 1), ("plantnet", 0.5, 1)]
    # A species one engine did not propose counts 0 for that engine.
    haworthia = next(s for s in body["suggestions"] if s["scientific_name"] == "Haworthia attenuata")
    assert haworthia["confidence"] == round(0.4 * 0.3, 4)
    assert body["degraded"] is False and body["success"] is True


def test_a_synonym_from_one_engine_meets_the_accepted_name_from_the_other_through_gbif() -> None:
    outcomes = {
        "plant_id": result("plant_id", Candidate("Sansevieria trifasciata", 0.8)),
        "plantnet": result("plantnet", Candidate("Dracaena trifasciata", 0.7)),
    }
    matches = {
        "sansevieria trifasciata": gbif("Sansevieria trifasciata", "Dracaena trifasciata", 2773780),
        "dracaena trifasciata": gbif("Dracaena trifasciata", "Dracaena trifasciata", 2773780),
    }

    body = merge(outcomes, gbif=matches, pages=[], enrichment={"gbif": "ok"}, health=False)

    assert len(body["suggestions"]) == 1
    top = body["suggestions"][0]
    assert top["scientific_name"] == "Dracaena trifasciata"
    assert {s["name"] for s in top["sources"]} == {"Sansevieria trifasciata", "Dracaena trifasciata"}
    assert top["gbif"]["species_key"] == 2773780


def test_with_one_engine_down_the_other_decides_and_the_answer_is_degraded() -> None:
    outcomes = {"plant_id": EngineOutcome("timeout"), "plantnet": result("plantnet", Candidate("Ficus lyrata", 0.7))}

    body = merge(outcomes, gbif={}, pages=[], enrichment={}, health=False)

    assert body["degraded"] is True
    assert body["confidence"] == 0.7
    assert body["engines"]["plant_id"]["status"] == "timeout"


def test_no_match_is_not_degraded_and_has_no_suggestions() -> None:
    outcomes = {
        "plant_id": result("plant_id"),
        "plantnet": EngineOutcome("no_match", EngineResult(engine="plantnet", candidates=(), no_match=True)),
    }

    body = merge(outcomes, gbif={}, pages=[], enrichment={}, health=False)

    assert body["success"] is False and body["plant_name"] is None and body["confidence"] == 0.0
    assert body["degraded"] is False and body["message"]
    assert body["care_instructions"]["source"] == "generic"


def test_care_comes_from_the_cms_page_when_there_is_one() -> None:
    outcomes = {"plant_id": result("plant_id", Candidate("Monstera deliciosa", 0.9, gbif_id=2868241, details={"watering": {"min": 2, "max": 2}}))}
    page = SpeciesPage("Monstera deliciosa", 2868241, "Swiss cheese plant", "https://example.test/species/monstera/",
                       {"light": "Bright, indirect.", "watering": "Weekly.", "toxicity": "pets: moderate"})  # fmt: skip

    body = merge(outcomes, gbif={}, pages=[page], enrichment={"cms": "ok"}, health=False)

    care = body["care_instructions"]
    assert care["source"] == "cms" and care["watering"] == "Weekly." and care["species_page_url"] == page.url
    assert care["toxicity"] == "pets: moderate" and "Swiss cheese plant" in care["summary"]
    assert body["suggestions"][0]["species_page"] == {"title": "Swiss cheese plant", "url": page.url}


def test_care_falls_back_to_plant_id_hints_then_to_the_generic_placeholder() -> None:
    hinted = merge({"plant_id": result("plant_id", Candidate("Aloe vera", 0.9, details={"watering": {"min": 1, "max": 1}}))},
                   gbif={}, pages=[], enrichment={}, health=False)  # fmt: skip
    bare = merge({"plantnet": result("plantnet", Candidate("Aloe vera", 0.9))}, gbif={}, pages=[], enrichment={}, health=False)

    assert hinted["care_instructions"]["source"] == "plant_id" and hinted["care_instructions"]["watering"] == "Prefers dry soil."
    assert bare["care_instructions"]["source"] == "generic" and bare["care_instructions"]["watering"]
    assert set(hinted["care_instructions"]) == set(bare["care_instructions"])


def test_similar_images_keep_their_licence_attribution_and_engine() -> None:
    image = SimilarImage("https://img.test/a.jpg", "https://img.test/a.s.jpg", 0.7, "CC BY-SA 4.0", "https://creativecommons.org/licenses/by-sa/4.0/", "Jane Doe")
    body = merge({"plant_id": result("plant_id", Candidate("Aloe vera", 0.9, similar_images=(image,)))}, gbif={}, pages=[], enrichment={}, health=False)

    (shown,) = body["suggestions"][0]["similar_images"]
    assert shown == {"url": image.url, "url_small": image.url_small, "similarity": 0.7, "license_name": "CC BY-SA 4.0",
                     "license_url": image.license_url, "citation": "Jane Doe", "engine": "plant_id"}  # fmt: skip


def test_the_stand_in_is_named_in_the_answer() -> None:
    body = merge({"plant_id": result("plant_id", Candidate("Aloe vera", 0.9), standin=True)}, gbif={}, pages=[], enrichment={}, health=False)

    assert "stand-in" in body["notice"]
    assert body["engines"]["plant_id"]["source"] == "standin"


def test_a_cms_page_found_under_a_synonym_is_matched_by_its_alias() -> None:
    outcomes = {"plantnet": result("plantnet", Candidate("Sansevieria trifasciata", 0.8))}
    page = SpeciesPage("Dracaena trifasciata", 2773780, "Snake plant", "https://example.test/snake/", {"watering": "Rarely."}, aliases=("Sansevieria trifasciata",))

    body = merge(outcomes, gbif={}, pages=[page], enrichment={"cms": "ok"}, health=False)

    assert body["suggestions"][0]["species_page"]["url"] == page.url
    assert body["care_instructions"]["source"] == "cms"
