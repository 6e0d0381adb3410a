"""Plant.id (Kindwise) v3: `POST /identification` with base64 JSON, `Api-Key` header (external-apis.md 1).

Errors: 400 → `ImageRejected`; 429 → `OutOfQuota` (credits gone: an account problem, not a
transient fault); 401/403/404/405 → `EngineFailure` (configuration); 5xx, timeouts → `EngineFailure`.
Bodies of errors are plain sentences (text or a JSON string), read leniently, logged, never shown
to end users.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from typing import Any

import httpx

from identify_gateway.engines.base import (
    Candidate,
    Disease,
    EngineFailure,
    EngineResult,
    ImageRejected,
    OutOfQuota,
    SimilarImage,
    text_of,
)
from identify_gateway.engines.http import as_float, as_int, as_str, exchange, str_list

NAME = "plant_id"
API_VERSION = "v3"
MAX_SUGGESTIONS = 10
# Detail views asked for (free with the identification); care hints come from the watering/light/soil ones.
DETAILS = "common_names,url,description,taxonomy,rank,gbif_id,watering,best_watering,best_light_condition,best_soil_type,toxicity"
DISEASE_DETAILS = "local_name,treatment,cause"
_CARE_VIEWS = ("watering", "best_watering", "best_light_condition", "best_soil_type", "toxicity")
_IMAGE_ERRORS = frozenset({400, 413, 415, 422})

log = logging.getLogger(__name__)


def similar_images(raw: Any) -> tuple[SimilarImage, ...]:
    out = []
    for item in raw[:4] if isinstance(raw, list) else ():
        if not isinstance(item, dict) or not (url := as_str(item.get("url"), 500)):
            continue
        out.append(
            SimilarImage(
                url=url,
                url_small=as_str(item.get("url_small"), 500),
                similarity=as_float(item.get("similarity")),
                license_name=as_str(item.get("license_name"), 80),
                license_url=as_str(item.get("license_url"), 300),
                citation=as_str(item.get("citation"), 200),
            )
        )
    return tuple(out)


def _licensed_value(raw: Any) -> str | None:
    """`description` and `image` views are `{value, citation, license_name, license_url}`."""
    return as_str(raw.get("value"), 2000) if isinstance(raw, dict) else as_str(raw, 2000)


def _candidate(raw: dict[str, Any]) -> Candidate | None:
    name = as_str(raw.get("name"), 200)
    score = as_float(raw.get("probability"))
    if name is None or score is None:
        return None
    details = raw.get("details") if isinstance(raw.get("details"), dict) else {}
    taxonomy = details.get("taxonomy") if isinstance(details.get("taxonomy"), dict) else {}
    return Candidate(
        scientific_name=name,
        score=max(0.0, min(1.0, score)),
        common_names=str_list(details.get("common_names")),
        genus=as_str(taxonomy.get("genus"), 100),
        family=as_str(taxonomy.get("family"), 100),
        gbif_id=as_int(details.get("gbif_id")),
        description=_licensed_value(details.get("description")),
        url=as_str(details.get("url"), 500),
        details={view: details[view] for view in _CARE_VIEWS if details.get(view) is not None},
        similar_images=similar_images(raw.get("similar_images")),
    )


def _disease(raw: dict[str, Any]) -> Disease | None:
    name = as_str(raw.get("name"), 200)
    probability = as_float(raw.get("probability"))
    if name is None or probability is None:
        return None
    details = raw.get("details") if isinstance(raw.get("details"), dict) else {}
    treatment = details.get("treatment") if isinstance(details.get("treatment"), dict) else None
    return Disease(
        name=name,
        probability=max(0.0, min(1.0, probability)),
        common_names=str_list(details.get("common_names")),
        description=_licensed_value(details.get("description")),
        treatment={k: str_list(v) for k, v in treatment.items() if k in ("biological", "chemical", "prevention")} if treatment else None,
        similar_images=similar_images(raw.get("similar_images")),
    )


def parse_identification(body: Any, *, standin: bool) -> EngineResult:
    """Map a completed identification (section 1.4) to an `EngineResult`.

    Raises:
        EngineFailure: not a completed identification object.
    """
    if not isinstance(body, dict) or body.get("status") != "COMPLETED" or not isinstance(body.get("result"), dict):
        raise EngineFailure(NAME, "answer is not a completed identification")
    result = body["result"]
    classification = result.get("classification") if isinstance(result.get("classification"), dict) else {}
    suggestions = classification.get("suggestions")
    candidates = [c for c in (_candidate(s) for s in (suggestions or [])[:MAX_SUGGESTIONS] if isinstance(s, dict)) if c]
    disease = result.get("disease") if isinstance(result.get("disease"), dict) else {}
    diseases = [d for d in (_disease(s) for s in (disease.get("suggestions") or [])[:MAX_SUGGESTIONS] if isinstance(s, dict)) if d]

    def probability(key: str) -> float | None:
        value = result.get(key)
        return as_float(value.get("probability")) if isinstance(value, dict) else None

    healthy = result.get("is_healthy", {}).get("binary") if isinstance(result.get("is_healthy"), dict) else None

    return EngineResult(
        engine=NAME,
        candidates=tuple(sorted(candidates, key=lambda c: -c.score)),
        model_version=as_str(body.get("model_version"), 40),
        is_plant=probability("is_plant"),
        is_healthy=probability("is_healthy"),
        healthy=healthy if isinstance(healthy, bool) else None,
        diseases=tuple(diseases),
        standin=standin,
    )


class PlantIdClient:
    """Plant.id v3 over the shared keep-alive client.

    Args:
        http: the engine's long-lived `httpx.AsyncClient` (base URL `…/api/v3`).
        api_key: the Kindwise key.
        timeout_s: budget of one identification, in total.
        image_long_side: the long side images are resized to before being sent.
    """

    name = NAME
    api_version = API_VERSION

    def __init__(self, http: httpx.AsyncClient, *, api_key: str, timeout_s: float, image_long_side: int) -> None:
        self._http = http
        self._headers = {"Api-Key": api_key}
        self.timeout_s = timeout_s
        self.image_long_side = image_long_side

    async def identify(
        self, images: Sequence[bytes], *, latitude: float | None, longitude: float | None, language: str, health: bool, organs: Sequence[str] = ()
    ) -> EngineResult:
        """Identify the plant on `images` (clean JPEGs); `organs` is not a Plant.id parameter.

        Raises:
            ImageRejected, OutOfQuota, EngineFailure (see the module docstring).
        """
        body: dict[str, Any] = {
            "images": [base64.b64encode(image).decode() for image in images],
            "similar_images": True,
            "classification_level": "species",
        }
        if latitude is not None and longitude is not None:
            body["latitude"], body["longitude"] = latitude, longitude
        if health:
            body["health"] = "all"
        details = f"{DETAILS},{DISEASE_DETAILS}" if health else DETAILS
        reply = await exchange(
            self._http, "POST", "identification", engine=NAME, timeout_s=self.timeout_s,
            params={"details": details, "language": language}, headers=self._headers, json=body,
        )  # fmt: skip
        if 200 <= reply.status < 300:
            return parse_identification(reply.json(NAME), standin=reply.standin)
        sentence = text_of(reply.body)
        if reply.status == 429:
            raise OutOfQuota(NAME, f"credits exhausted: {sentence}", reset_in_s=None)
        if reply.status in _IMAGE_ERRORS:
            raise ImageRejected(NAME, f"HTTP {reply.status}: {sentence}")
        if reply.status in (401, 403):
            log.error("Plant.id refused the API key (HTTP %s): %s; check GATEWAY_PLANT_ID_API_KEY", reply.status, sentence)
        raise EngineFailure(NAME, f"HTTP {reply.status}: {sentence}")

    async def usage(self) -> dict[str, Any] | None:
        """`GET /usage_info` (free of charge) as sent, for the quota tracker; None when unavailable."""
        try:
            reply = await exchange(self._http, "GET", "usage_info", engine=NAME, timeout_s=self.timeout_s, headers=self._headers, max_bytes=64 * 1024)
            body = reply.json(NAME) if reply.status == 200 else None
        except EngineFailure:
            return None
        return body if isinstance(body, dict) and isinstance(body.get("remaining"), dict) else None
