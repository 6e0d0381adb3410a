"""GBIF species match (keyless enrichment): `GET /v1/species/match?name=…&kingdom=Plantae` (external-apis.md 4).

`matchType: NONE` is a normal answer (no match). Matches are kept in a small in-process memory
for `ttl_s` (taxonomy changes slowly), so a species seen once costs no more calls in this process.
The v1 parser is isolated here: GBIF has discussed replacing v1 with `/v2/species/match`.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import httpx

from identify_gateway.engines.base import EngineFailure
from identify_gateway.engines.http import as_int, as_str, exchange

NAME = "gbif"
API_VERSION = "v1"
MEMORY_SIZE = 2048


@dataclass(frozen=True)
class GbifMatch:
    usage_key: int
    canonical_name: str
    scientific_name: str | None
    rank: str | None
    status: str | None  # ACCEPTED | SYNONYM | DOUBTFUL
    match_type: str  # EXACT | FUZZY | HIGHERRANK
    confidence: int | None
    family: str | None
    genus: str | None
    species: str | None  # the accepted species' name (for a synonym: the accepted one)
    species_key: int | None

    @property
    def accepted_name(self) -> str:
        """The name to group suggestions under: the accepted species when GBIF knows it."""
        return self.species or self.canonical_name

    def public(self) -> dict[str, Any]:
        return {
            "usage_key": self.usage_key, "species_key": self.species_key, "canonical_name": self.canonical_name,
            "scientific_name": self.scientific_name, "rank": self.rank, "status": self.status,
            "match_type": self.match_type, "confidence": self.confidence, "family": self.family, "genus": self.genus,
            "url": f"https://www.gbif.org/species/{self.species_key or self.usage_key}",
        }  # fmt: skip


def parse_match(body: Any) -> GbifMatch | None:
    """A usable match, or None for `matchType: NONE` and HIGHERRANK-only answers.

    Raises:
        EngineFailure: not a match object.
    """
    if not isinstance(body, dict) or "matchType" not in body:
        raise EngineFailure(NAME, "answer is not a species match")
    match_type = as_str(body.get("matchType"), 20)
    usage_key = as_int(body.get("usageKey"))
    canonical = as_str(body.get("canonicalName"), 200)
    if match_type not in ("EXACT", "FUZZY") or usage_key is None or canonical is None:
        return None
    return GbifMatch(
        usage_key=usage_key,
        canonical_name=canonical,
        scientific_name=as_str(body.get("scientificName"), 250),
        rank=as_str(body.get("rank"), 30),
        status=as_str(body.get("status"), 30),
        match_type=match_type,
        confidence=as_int(body.get("confidence")),
        family=as_str(body.get("family"), 100),
        genus=as_str(body.get("genus"), 100),
        species=as_str(body.get("species"), 200),
        species_key=as_int(body.get("speciesKey")),
    )


class GbifClient:
    """GBIF species match over a shared keep-alive client, with an in-process memory of answers.

    Args:
        http: long-lived `httpx.AsyncClient` (base URL `…/v1`).
        timeout_s: budget of one lookup.
        ttl_s: how long an answer (a match or a "no match") is remembered.
    """

    name = NAME

    def __init__(self, http: httpx.AsyncClient, *, timeout_s: float, ttl_s: int) -> None:
        self._http = http
        self.timeout_s = timeout_s
        self.ttl_s = ttl_s
        self._memory: OrderedDict[str, tuple[float, GbifMatch | None]] = OrderedDict()

    def remembered(self, name: str) -> tuple[bool, GbifMatch | None]:
        """(known, match) from memory, without any call."""
        entry = self._memory.get(name.lower())
        if entry is None or entry[0] < time.monotonic():
            return False, None
        return True, entry[1]

    async def match(self, name: str) -> GbifMatch | None:
        """The GBIF backbone match of a scientific name (None: no match).

        Raises:
            EngineFailure: GBIF unreachable, slow, or answering something else than a match.
        """
        known, cached = self.remembered(name)
        if known:
            return cached
        reply = await exchange(
            self._http, "GET", "species/match", engine=NAME, timeout_s=self.timeout_s,
            params={"name": name, "kingdom": "Plantae"}, max_bytes=256 * 1024,
        )  # fmt: skip
        if reply.status != 200:
            raise EngineFailure(NAME, f"HTTP {reply.status}")
        found = parse_match(reply.json(NAME))
        self._memory[name.lower()] = (time.monotonic() + self.ttl_s, found)
        self._memory.move_to_end(name.lower())
        while len(self._memory) > MEMORY_SIZE:
            self._memory.popitem(last=False)
        return found
