"""Enrichment of engine answers: GBIF backbone matches (keyless) and CMS species pages (service
token), each through its own breaker and within a time budget. A failure here costs the
enrichment, never the answer.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence

from identify_gateway.engines.base import EngineError
from identify_gateway.engines.cms import CmsClient, SpeciesPage, SpeciesQuery
from identify_gateway.engines.gbif import GbifClient, GbifMatch
from identify_gateway.identify.merge import EngineOutcome
from identify_gateway.metrics import ENRICHMENT
from identify_gateway.resilience import BreakerOpen, EngineBreaker, EngineBusy

MAX_CMS_SPECIES = 10
PAGE_MEMORY_TTL_S = 300.0
PAGE_MEMORY_SIZE = 2048


class SpeciesPageMemory:
    """CMS lookups remembered per query for a few minutes (a query without a page too).

    Popular species are asked about all day and a page rarely changes; whole answers, pages
    included, stay in the result cache for a day anyway. Without this, every cold identification
    waits for one more CMS round trip after the slower engine, and a burst of them queues on the CMS.
    """

    def __init__(self, *, ttl_s: float = PAGE_MEMORY_TTL_S, size: int = PAGE_MEMORY_SIZE) -> None:
        self.ttl_s = ttl_s
        self.size = size
        self._entries: OrderedDict[tuple[str, int | None], tuple[float, tuple[SpeciesPage, ...]]] = OrderedDict()

    @staticmethod
    def _key(query: SpeciesQuery) -> tuple[str, int | None]:
        return query.scientific_name.lower(), query.gbif_key

    def recall(self, query: SpeciesQuery) -> tuple[SpeciesPage, ...] | None:
        """The pages last found for `query` (maybe none); None when not remembered."""
        entry = self._entries.get(self._key(query))
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def remember(self, queries: Sequence[SpeciesQuery], pages: Sequence[SpeciesPage]) -> None:
        """Store one lookup's answer, each page under the queries it answers (by name, alias or GBIF key)."""
        expires = time.monotonic() + self.ttl_s
        for query in queries:
            name = query.scientific_name.lower()
            found = tuple(
                p for p in pages
                if name in (p.scientific_name.lower(), *(a.lower() for a in p.aliases)) or (query.gbif_key and p.gbif_key == query.gbif_key)
            )  # fmt: skip
            key = self._key(query)
            self._entries[key] = (expires, found)
            self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)


class Enricher:
    """Args:
    gbif, cms: the clients (None: that source is off).
    gbif_breaker, cms_breaker: their breakers.
    budget_s: how long one lookup round may hold an answer.
    """

    def __init__(
        self,
        *,
        gbif: GbifClient | None,
        cms: CmsClient | None,
        gbif_breaker: EngineBreaker | None,
        cms_breaker: EngineBreaker | None,
        budget_s: float,
    ) -> None:
        self.gbif = gbif
        self.cms = cms
        self._gbif_breaker = gbif_breaker
        self._cms_breaker = cms_breaker
        self.budget_s = budget_s
        self.pages = SpeciesPageMemory()

    def gbif_status(self, statuses: Sequence[str]) -> str:
        """One status for the answer from each engine's lookup round: the worst of them."""
        if self.gbif is None:
            return "disabled"
        for status in ("unavailable", "partial"):
            if status in statuses:
                return status
        return "ok" if statuses else "skipped"

    async def gbif_matches(self, names: Sequence[str]) -> tuple[dict[str, GbifMatch | None], str]:
        """GBIF matches for `names` within the enrichment budget; unknown names are left out."""
        assert self.gbif is not None and self._gbif_breaker is not None
        gbif, breaker = self.gbif, self._gbif_breaker
        found: dict[str, GbifMatch | None] = {}
        pending: dict[asyncio.Task[GbifMatch | None], str] = {}
        for name in dict.fromkeys(names):
            known, match = gbif.remembered(name)
            if known:
                found[name.lower()] = match
            else:
                pending[asyncio.create_task(breaker.call(lambda name=name: gbif.match(name)))] = name
        failures = 0
        if pending:
            done, late = await asyncio.wait(pending, timeout=self.budget_s)
            for task in late:
                task.cancel()
            errors = 0
            for task in done:
                if task.exception() is None:
                    found[pending[task].lower()] = task.result()
                else:
                    errors += 1
            failures = errors + len(late)
            ENRICHMENT.labels("gbif", "ok").inc(len(done) - errors)
            ENRICHMENT.labels("gbif", "failed").inc(errors)
            ENRICHMENT.labels("gbif", "timeout").inc(len(late))
        status = "ok" if not failures else ("partial" if found else "unavailable")
        return found, status

    async def species_pages(self, outcomes: Mapping[str, EngineOutcome], matches: Mapping[str, GbifMatch | None]) -> tuple[list[SpeciesPage], str]:
        """CMS species pages for every proposed species (by accepted name and GBIF key), in one call."""
        if self.cms is None or self._cms_breaker is None:
            return [], "disabled"
        queries: dict[str, SpeciesQuery] = {}
        candidates = sorted((c for o in outcomes.values() if o.result for c in o.result.candidates), key=lambda c: -c.score)
        for candidate in candidates:
            match = matches.get(candidate.scientific_name.lower())
            name = match.accepted_name if match else candidate.scientific_name
            key = match.species_key if match and match.species_key else candidate.gbif_id
            queries.setdefault(name.lower(), SpeciesQuery(name, key))
        asked = list(queries.values())[:MAX_CMS_SPECIES]
        remembered = {q: self.pages.recall(q) for q in asked}
        missing = [q for q, found in remembered.items() if found is None]
        pages = [p for found in remembered.values() if found for p in found]
        if not missing:
            if asked:
                ENRICHMENT.labels("cms", "remembered").inc()
            return _distinct(pages), "ok"
        cms, breaker = self.cms, self._cms_breaker
        try:
            async with asyncio.timeout(self.budget_s):
                looked_up = await breaker.call(lambda: cms.lookup(missing))
        except (TimeoutError, EngineError, BreakerOpen, EngineBusy) as exc:
            status = "timeout" if isinstance(exc, TimeoutError) else "unavailable"
            ENRICHMENT.labels("cms", status).inc()
            return _distinct(pages), status  # what was remembered still serves
        ENRICHMENT.labels("cms", "ok").inc()
        self.pages.remember(missing, looked_up)
        return _distinct([*pages, *looked_up]), "ok"


def _distinct(pages: Sequence[SpeciesPage]) -> list[SpeciesPage]:
    """Pages in order, each once (one page can answer several queries; pages are not hashable)."""
    return list({id(page): page for page in pages}.values())
