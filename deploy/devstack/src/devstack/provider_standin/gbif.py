"""GBIF species match `GET /v1/species/match` (keyless), as external-apis.md section 4 describes it.

Matches against the stand-in's catalogue (and a few well-known synonyms) the way the GBIF
backbone matcher answers: EXACT, FUZZY (unless `strict=true`), HIGHERRANK for a known genus,
and a 200 with `matchType: NONE` for anything else. Species keys are the catalogue's GBIF keys;
the kingdom, phylum and class keys are GBIF's; order, family and genus keys are stable
stand-in values (derived from the name), not GBIF's.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from http import HTTPStatus
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from devstack.provider_standin.catalogue import CATALOGUE, Species
from devstack.provider_standin.control import Mode, before_answer

router = APIRouter(tags=["GBIF species API v1"])

KINGDOM_KEY, PHYLUM_KEY = 6, 7707728  # Plantae, Tracheophyta
CLASS_KEYS = {"Liliopsida": 196, "Magnoliopsida": 220}
# Old names still in use, pointing at the accepted catalogue species: (synonym, its authorship, accepted name).
SYNONYMS = (
    ("Sansevieria trifasciata", "Prain", "Dracaena trifasciata"),
    ("Scindapsus aureus", "(Linden & André) Engl.", "Epipremnum aureum"),
)
FUZZY_CUTOFF = 0.85


def _stand_in_key(rank: str, name: str) -> int:
    return 8_000_000 + int.from_bytes(hashlib.sha256(f"{rank}:{name}".encode()).digest()[:3], "big")


def _classification(s: Species) -> dict[str, Any]:
    return {
        "kingdom": "Plantae", "phylum": "Tracheophyta", "order": s.order, "family": s.family, "genus": s.genus,
        "kingdomKey": KINGDOM_KEY, "phylumKey": PHYLUM_KEY, "classKey": CLASS_KEYS.get(s.class_, _stand_in_key("class", s.class_)),
        "orderKey": _stand_in_key("order", s.order), "familyKey": _stand_in_key("family", s.family), "genusKey": _stand_in_key("genus", s.genus),
        "class": s.class_,
    }


def _species_match(s: Species, *, confidence: int, match_type: str) -> dict[str, Any]:
    taxa = _classification(s)
    return {
        "usageKey": int(s.gbif_id), "scientificName": s.full_name, "canonicalName": s.name, "rank": "SPECIES", "status": "ACCEPTED",
        "confidence": confidence, "matchType": match_type,
        **{k: taxa[k] for k in ("kingdom", "phylum", "order", "family", "genus")}, "species": s.name,
        **{k: taxa[k] for k in ("kingdomKey", "phylumKey", "classKey", "orderKey", "familyKey", "genusKey")}, "speciesKey": int(s.gbif_id),
        "synonym": False, "class": taxa["class"],
    }


def _synonym_match(name: str, authorship: str, accepted: Species, *, confidence: int, match_type: str) -> dict[str, Any]:
    body = _species_match(accepted, confidence=confidence, match_type=match_type)
    body.update({"usageKey": _stand_in_key("species", name), "scientificName": f"{name} {authorship}", "canonicalName": name,
                 "status": "SYNONYM", "synonym": True, "acceptedUsageKey": int(accepted.gbif_id)})
    return body


def _genus_match(s: Species, *, confidence: int) -> dict[str, Any]:
    taxa = _classification(s)
    return {
        "usageKey": taxa["genusKey"], "scientificName": s.genus, "canonicalName": s.genus, "rank": "GENUS", "status": "ACCEPTED",
        "confidence": confidence, "matchType": "HIGHERRANK",
        **{k: taxa[k] for k in ("kingdom", "phylum", "order", "family", "genus")},
        **{k: taxa[k] for k in ("kingdomKey", "phylumKey", "classKey", "orderKey", "familyKey", "genusKey")},
        "synonym": False, "class": taxa["class"],
    }


NONE = {"confidence": 100, "matchType": "NONE", "synonym": False}


def match(name: str, *, strict: bool = False) -> dict[str, Any]:
    """The v1 match answer for `name` (a canonical name, with or without authorship)."""
    wanted = re.sub(r"\s+", " ", name).strip().lower()
    if not wanted:
        return dict(NONE)
    by_name = {s.name.lower(): s for s in CATALOGUE}
    for s in CATALOGUE:
        if wanted in (s.name.lower(), s.full_name.lower()):
            return _species_match(s, confidence=99 if wanted == s.full_name.lower() else 98, match_type="EXACT")
    for synonym, authorship, accepted in SYNONYMS:
        if wanted in (synonym.lower(), f"{synonym} {authorship}".lower()):
            return _synonym_match(synonym, authorship, by_name[accepted.lower()], confidence=98, match_type="EXACT")
    binomial = " ".join(wanted.split()[:2])
    if not strict:
        names = [s.name.lower() for s in CATALOGUE]
        close = difflib.get_close_matches(binomial, names, n=1, cutoff=FUZZY_CUTOFF)
        if close:
            ratio = difflib.SequenceMatcher(None, binomial, close[0]).ratio()
            return _species_match(by_name[close[0]], confidence=int(ratio * 100) - 5, match_type="FUZZY")
    genus = wanted.split()[0]
    for s in CATALOGUE:
        if s.genus.lower() == genus:
            return _genus_match(s, confidence=94)
    return dict(NONE)


@router.get("/v1/species/match")
async def species_match(request: Request) -> Response:
    """GBIF v1: match a scientific name against the backbone (`name`; optional `strict`, `verbose`, `kingdom`, `rank`...)."""
    call = await before_answer(request, "gbif")
    if call.dropped is not None:
        return call.dropped
    if call.fail:
        return PlainTextResponse(HTTPStatus(call.engine.fail_status).phrase, status_code=call.engine.fail_status)  # body undocumented [U]
    if call.engine.mode is Mode.QUOTA:
        # GBIF publishes no quota; "excessive" use may be restricted (www.gbif.org/restricted) [U].
        return PlainTextResponse("Too Many Requests", status_code=429)
    params = request.query_params
    name = params.get("name") or params.get("scientificName") or ""
    kingdom = params.get("kingdom")
    body = dict(NONE) if kingdom and kingdom.lower() != "plantae" else match(name, strict=params.get("strict", "false").lower() == "true")
    if params.get("verbose", "false").lower() == "true":
        body["alternatives"] = []
    return JSONResponse(body)
