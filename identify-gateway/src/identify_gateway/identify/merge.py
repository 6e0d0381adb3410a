"""Merge what the engines said into the one answer clients get.

- Suggestions are grouped by species: the GBIF backbone's accepted species when GBIF matched the
  name (so a synonym from one engine meets the accepted name from the other), else the name.
- Combined confidence: the engines' scores averaged with weights (Plant.id 0.6, Pl@ntNet 0.4) over
  the engines that answered; an engine that answered without proposing the species counts 0 for
  it. With one engine answering, its own score is the confidence.
- Each suggestion keeps its provenance: which engine proposed it, under which name, with which
  score and rank; similar images carry their licence and attribution.
- Care instructions: the CMS species page's care guide when there is one, else Plant.id's care
  hints (watering, light, soil), else a generic placeholder (`source: "generic"`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from identify_gateway.engines.base import Candidate, EngineResult
from identify_gateway.engines.cms import SpeciesPage
from identify_gateway.engines.gbif import GbifMatch

WEIGHTS = {"plant_id": 0.6, "plantnet": 0.4}
MAX_SUGGESTIONS = 5
MAX_IMAGES_PER_ENGINE = 3
STANDIN_NOTICE = "Answered by the development provider stand-in, not by the real identification services."

# Engine statuses: answered (ok, no_match) or not (everything else makes the answer degraded).
ANSWERED = frozenset({"ok", "no_match"})
NOT_DEGRADING = ANSWERED | {"disabled", "rejected_image"}

GENERIC_CARE = {
    "light": "Bright, indirect light suits most plants; avoid harsh midday sun until you know the species.",
    "watering": "Water when the top few centimetres of soil are dry; never leave the pot standing in water.",
    "soil": "A free-draining potting mix, in a pot with drainage holes.",
    "humidity": None,
    "temperature": "Keep away from frost, radiators and cold draughts.",
}
_WATERING_SCALE = {1: "dry", 2: "medium", 3: "wet"}  # Plant.id's watering scale


@dataclass(frozen=True)
class EngineOutcome:
    """What one engine did for this request."""

    status: str  # ok | no_match | failed | timeout | circuit_open | busy | quota_exhausted | rejected_image | disabled
    result: EngineResult | None = None
    latency_ms: float | None = None
    retry_after_s: int | None = None

    def public(self) -> dict[str, Any]:
        result = self.result
        return {
            "status": self.status,
            "latency_ms": round(self.latency_ms, 1) if self.latency_ms is not None else None,
            "model_version": result.model_version if result else None,
            "suggestions": len(result.candidates) if result else 0,
            "source": ("standin" if result.standin else "live") if result else None,
        }


@dataclass
class _Group:
    key: str
    name: str
    gbif: GbifMatch | None
    by_engine: dict[str, tuple[int, Candidate]]


def group_key(candidate: Candidate, gbif: GbifMatch | None) -> str:
    if gbif is not None and gbif.species_key is not None:
        return f"gbif:{gbif.species_key}"
    return "name:" + " ".join(candidate.scientific_name.lower().split())


def _groups(results: Mapping[str, EngineResult], gbif: Mapping[str, GbifMatch | None]) -> list[_Group]:
    groups: dict[str, _Group] = {}
    for engine in sorted(results, key=lambda e: -WEIGHTS.get(e, 0.1)):  # the primary engine names the group
        for rank, candidate in enumerate(results[engine].candidates, start=1):
            match = gbif.get(candidate.scientific_name.lower())
            key = group_key(candidate, match)
            group = groups.setdefault(key, _Group(key, match.accepted_name if match else candidate.scientific_name, match, {}))
            group.by_engine.setdefault(engine, (rank, candidate))  # an engine's best-ranked candidate in the group
    return list(groups.values())


def _confidence(group: _Group, answered: Sequence[str]) -> float:
    total = sum(WEIGHTS.get(e, 0.1) for e in answered)
    if total == 0:
        return 0.0
    return sum(WEIGHTS.get(e, 0.1) * c.score for e, (_, c) in group.by_engine.items() if e in answered) / total


def _care_from_plant_id(details: Mapping[str, Any]) -> dict[str, Any] | None:
    watering = details.get("best_watering") if isinstance(details.get("best_watering"), str) else None
    scale = details.get("watering")
    if watering is None and isinstance(scale, dict) and isinstance(scale.get("min"), int) and isinstance(scale.get("max"), int):
        low, high = _WATERING_SCALE.get(scale["min"]), _WATERING_SCALE.get(scale["max"])
        if low and high:
            watering = f"Prefers {low} soil." if low == high else f"Tolerates {low} to {high} soil."
    light = details.get("best_light_condition") if isinstance(details.get("best_light_condition"), str) else None
    soil = details.get("best_soil_type") if isinstance(details.get("best_soil_type"), str) else None
    if not (watering or light or soil):
        return None
    return {"light": light, "watering": watering, "soil": soil, "humidity": None, "temperature": None}


def care_instructions(top: _Group | None, page: SpeciesPage | None) -> dict[str, Any]:
    """The care block of the answer, always with the same keys; `source` says where it came from."""
    if page is not None and set(page.care) - {"toxicity"}:
        care = {k: page.care.get(k) for k in ("light", "watering", "soil", "humidity", "temperature")}
        summary = f"From our care guide for {page.title or page.scientific_name}."
        return {"source": "cms", "species_page_url": page.url, "summary": summary, **care, "toxicity": page.care.get("toxicity")}
    for _, candidate in (top.by_engine.values() if top else ()):
        hints = _care_from_plant_id(candidate.details)
        if hints:
            return {"source": "plant_id", "species_page_url": None, "summary": None, **hints, "toxicity": _str(candidate.details.get("toxicity"))}
    return {"source": "generic", "species_page_url": None, "summary": "General care until a species guide is available.", **GENERIC_CARE, "toxicity": None}


def _str(value: Any) -> str | None:
    return value[:500] if isinstance(value, str) else None


def _page_for(group: _Group, pages: Sequence[SpeciesPage]) -> SpeciesPage | None:
    names = {group.name.lower(), *(c.scientific_name.lower() for _, c in group.by_engine.values())}
    keys = {k for k in (group.gbif.species_key if group.gbif else None, group.gbif.usage_key if group.gbif else None) if k}
    keys |= {c.gbif_id for _, c in group.by_engine.values() if c.gbif_id}
    for page in pages:
        known_as = {page.scientific_name.lower(), *(a.lower() for a in page.aliases)}
        if known_as & names or (page.gbif_key is not None and page.gbif_key in keys):
            return page
    return None


def _suggestion(rank: int, group: _Group, confidence: float, page: SpeciesPage | None) -> dict[str, Any]:
    engines = sorted(group.by_engine.items(), key=lambda item: -WEIGHTS.get(item[0], 0.1))  # primary engine first
    candidates = [c for _, (_, c) in engines]
    common: list[str] = []
    for c in candidates:
        common.extend(n for n in c.common_names if n not in common)
    images = []
    for engine, (_, c) in engines:
        images.extend({**asdict(i), "engine": engine} for i in c.similar_images[:MAX_IMAGES_PER_ENGINE])
    return {
        "rank": rank,
        "plant_name": common[0] if common else group.name,
        "scientific_name": group.name,
        "common_names": common[:6],
        "confidence": round(confidence, 4),
        "family": next((c.family for c in candidates if c.family), None) or (group.gbif.family if group.gbif else None),
        "genus": next((c.genus for c in candidates if c.genus), None) or (group.gbif.genus if group.gbif else None),
        "description": next((c.description for c in candidates if c.description), None),
        "url": next((c.url for c in candidates if c.url), None),
        "sources": [
            {"engine": engine, "name": c.scientific_name, "score": round(c.score, 4), "rank": engine_rank}
            for engine, (engine_rank, c) in engines
        ],
        "similar_images": images,
        "gbif": group.gbif.public() if group.gbif else None,
        "species_page": {"title": page.title, "url": page.url} if page and page.url else None,
    }


def merge(
    outcomes: Mapping[str, EngineOutcome],
    *,
    gbif: Mapping[str, GbifMatch | None],
    pages: Sequence[SpeciesPage],
    enrichment: Mapping[str, str],
    health: bool,
) -> dict[str, Any]:
    """The answer body, without the per-request fields (`request_id`, `cached`) the pipeline adds.

    Args:
        outcomes: every configured engine's outcome, by engine name.
        gbif: GBIF matches by lower-cased scientific name (None: no match).
        pages: CMS species pages found for the suggestions.
        enrichment: status of each enrichment source (`gbif`, `cms`).
        health: whether a health assessment was asked for.
    """
    results = {e: o.result for e, o in outcomes.items() if o.status in ANSWERED and o.result is not None}
    answered = list(results)
    ranked = sorted(_groups(results, gbif), key=lambda g: (-_confidence(g, answered), -max(c.score for _, c in g.by_engine.values())))
    top_groups = ranked[:MAX_SUGGESTIONS]
    suggestions = [_suggestion(n, g, _confidence(g, answered), _page_for(g, pages)) for n, g in enumerate(top_groups, start=1)]
    top = suggestions[0] if suggestions else None
    plant_id = results.get("plant_id")
    body: dict[str, Any] = {
        "success": top is not None,
        "plant_name": top["plant_name"] if top else None,
        "scientific_name": top["scientific_name"] if top else None,
        "confidence": top["confidence"] if top else 0.0,
        "suggestions": suggestions,
        "care_instructions": care_instructions(top_groups[0] if top_groups else None, _page_for(top_groups[0], pages) if top_groups else None),
        "degraded": any(o.status not in NOT_DEGRADING for o in outcomes.values()),
        "is_plant_probability": plant_id.is_plant if plant_id else None,
        "health_assessment": _health(plant_id) if health else None,
        "engines": {e: o.public() for e, o in outcomes.items()},
        "enrichment": dict(enrichment),
        "notice": STANDIN_NOTICE if any(r.standin for r in results.values()) else None,
    }
    if top is None:
        body["message"] = "No plant could be identified in this photo. Try a closer, well-lit picture of leaves or flowers."
    return body


def _health(plant_id: EngineResult | None) -> dict[str, Any] | None:
    if plant_id is None:
        return {"available": False, "is_healthy": None, "is_healthy_probability": None, "diseases": []}
    return {
        "available": plant_id.is_healthy is not None,
        "is_healthy": plant_id.healthy,
        "is_healthy_probability": plant_id.is_healthy,
        "diseases": [
            {
                "name": d.name, "probability": round(d.probability, 4), "common_names": list(d.common_names),
                "description": d.description, "treatment": d.treatment,
                "similar_images": [{**asdict(i), "engine": "plant_id"} for i in d.similar_images[:MAX_IMAGES_PER_ENGINE]],
            }  # fmt: skip
            for d in plant_id.diseases[:MAX_SUGGESTIONS]
        ],
    }
