"""The CMS's species pages for a set of suggestions, in one internal call with a service token.

The CMS's contract (cms/src/plant_cms/species/internal.py):

    POST {cms_internal_url}/api/v1/internal/species/lookup/
    Authorization: Bearer <service token: aud "cms", scope "internal", client "identify-gateway">
    {"names": ["Monstera deliciosa", ...], "gbif_keys": [2868241, ...]}

    200 {"results": [{"query": {"name": ..., "gbif_key": ...}, "match": "scientific_name" | "synonym" | "gbif_key",
                      "species": {"scientific_name", "gbif_key", "common_names": {lang: [...]}, "toxicity": {...}, ...},
                      "page": {"id", "title", "url", "api_url"} | null,
                      "care_summary": {"light": {"summary", ...}, "watering": {"summary", ...}, ...} | null}],
         "unmatched": {"names": [...], "gbif_keys": [...]}}

Until the CMS answers (not deployed, no service credentials, breaker open), identification goes on
without species pages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from identify_gateway.engines.base import EngineFailure
from identify_gateway.engines.http import as_int, as_str, exchange
from identify_gateway.service_tokens import ServiceTokenError, ServiceTokens

NAME = "cms"
LOOKUP_PATH = "api/v1/internal/species/lookup/"
CARE_TOPICS = ("light", "watering", "soil", "humidity", "temperature", "feeding")
MAX_SPECIES = 10


@dataclass(frozen=True)
class SpeciesPage:
    """One matched species: its page (None when it has no live page) and its care summary."""

    scientific_name: str
    gbif_key: int | None
    title: str | None
    url: str | None
    care: dict[str, str] = field(default_factory=dict)  # topic -> one-line summary, plus "toxicity"
    aliases: tuple[str, ...] = ()  # the names it was asked for (a synonym, a name with authorship)


@dataclass(frozen=True)
class SpeciesQuery:
    scientific_name: str
    gbif_key: int | None = None


def _toxicity(raw: Any) -> str | None:
    if not isinstance(raw, dict):
        return None
    parts = [f"{who}: {level}" for who in ("people", "pets") if (level := as_str(raw.get(who), 20)) and level != "unknown"]
    notes = as_str(raw.get("notes"), 300)
    text = "; ".join(parts) + (f". {notes}" if notes else "")
    return text or None


def parse_lookup(body: Any) -> list[SpeciesPage]:
    """The matched species of a lookup answer; malformed entries are skipped.

    Raises:
        EngineFailure: not a lookup answer.
    """
    results = body.get("results") if isinstance(body, dict) else None
    if not isinstance(results, list):
        raise EngineFailure(NAME, "answer has no results list")
    pages = []
    for item in results[: MAX_SPECIES * 4]:
        species = item.get("species") if isinstance(item, dict) else None
        if not isinstance(species, dict) or not (name := as_str(species.get("scientific_name"), 200)):
            continue
        page = item.get("page") if isinstance(item.get("page"), dict) else {}
        summary = item.get("care_summary") if isinstance(item.get("care_summary"), dict) else {}
        care = {topic: text for topic in CARE_TOPICS if isinstance(summary.get(topic), dict) and (text := as_str(summary[topic].get("summary"), 300))}
        if toxicity := _toxicity(species.get("toxicity")):
            care["toxicity"] = toxicity
        query = item.get("query") if isinstance(item.get("query"), dict) else {}
        pages.append(
            SpeciesPage(
                scientific_name=name,
                gbif_key=as_int(species.get("gbif_key")),
                title=as_str(page.get("title"), 200),
                url=as_str(page.get("url"), 500),
                care=care,
                aliases=tuple(a for a in (as_str(query.get("name"), 200),) if a),
            )
        )
    return pages


class CmsClient:
    """The CMS's internal species lookup.

    Args:
        http: long-lived client (base URL: the CMS's internal address).
        tokens: this service's tokens for the audience `cms`.
        timeout_s: budget of one lookup.
    """

    name = NAME

    def __init__(self, http: httpx.AsyncClient, *, tokens: ServiceTokens, timeout_s: float) -> None:
        self._http = http
        self._tokens = tokens
        self.timeout_s = timeout_s

    async def lookup(self, species: Sequence[SpeciesQuery]) -> list[SpeciesPage]:
        """Species pages for `species` (at most 10 asked).

        Raises:
            EngineFailure: the CMS or the auth service is unreachable, or the CMS has no such endpoint yet.
        """
        if not species:
            return []
        asked = species[:MAX_SPECIES]
        body = {"names": [s.scientific_name for s in asked], "gbif_keys": sorted({s.gbif_key for s in asked if s.gbif_key})}
        for attempt in (1, 2):
            try:
                token = await self._tokens.token()
            except ServiceTokenError as exc:
                raise EngineFailure(NAME, f"no service token: {exc}") from None
            reply = await exchange(
                self._http, "POST", LOOKUP_PATH, engine=NAME, timeout_s=self.timeout_s,
                json=body, headers={"Authorization": f"Bearer {token}"}, max_bytes=512 * 1024,
            )  # fmt: skip
            if reply.status == 401 and attempt == 1:
                self._tokens.forget()  # expired or rotated keys: one fresh token, one more try
                continue
            if reply.status != 200:
                raise EngineFailure(NAME, f"HTTP {reply.status}")
            return parse_lookup(reply.json(NAME))
        raise EngineFailure(NAME, "token refused twice")
