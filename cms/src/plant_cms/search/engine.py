"""One ranked list over species and blog posts, tolerant of typos and partial words.

Species match on scientific name, common names (any language) and synonyms by pg_trgm
`word_similarity` (the `<%` operator, served by the GIN trigram indexes) or by substring
(`ILIKE`, same indexes). Posts match on title and standfirst the same way, and on their body by
full-text search (`websearch_to_tsquery`). Scores are in [0, ~1.5]: the best name or title
similarity, plus a bonus for an exact or prefix match; body-only matches stay below 0.3.

Two SQL statements rank and count everything (facets come from window counts), then one query
per result type loads what the page shows: a constant number of queries per request.
"""

from __future__ import annotations

import difflib
import html
import re
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction

from plant_cms.blog.models import BlogPostPage
from plant_cms.images import image_pool, image_representation
from plant_cms.species.models import PlantSpecies

TYPES = ("species", "post")
MIN_QUERY, MAX_QUERY = 2, 100
# word_similarity threshold of `<%`: 0.6 is pg_trgm's default; 0.5 also finds "monstra" and
# "filodendron" while keeping unrelated words out.
WORD_SIMILARITY_THRESHOLD = 0.5

_SQL = """
WITH q AS (
    SELECT %(q)s::text AS q, %(like)s::text AS pattern, %(prefix)s::text AS prefix,
           websearch_to_tsquery('english', %(q)s) AS tsq
),
species_hits AS (
    SELECT s.id FROM species_plantspecies s, q WHERE q.q <%% s.scientific_name OR s.scientific_name ILIKE q.pattern
    UNION
    SELECT c.species_id FROM species_commonname c, q WHERE q.q <%% c.name OR c.name ILIKE q.pattern
    UNION
    SELECT y.species_id FROM species_synonym y, q WHERE q.q <%% y.name OR y.name ILIKE q.pattern
),
species AS (
    SELECT 'species'::text AS kind, s.id,
        GREATEST(
            word_similarity(q.q, s.scientific_name)
                + CASE WHEN lower(s.scientific_name) = lower(q.q) THEN 0.5
                       WHEN s.scientific_name ILIKE q.prefix THEN 0.2 ELSE 0 END,
            COALESCE((SELECT max(word_similarity(q.q, c.name)
                                 + CASE WHEN lower(c.name) = lower(q.q) THEN 0.45
                                        WHEN c.name ILIKE q.prefix THEN 0.15 ELSE 0 END)
                      FROM species_commonname c WHERE c.species_id = s.id), 0),
            COALESCE((SELECT max(word_similarity(q.q, y.name) * 0.9
                                 + CASE WHEN lower(y.name) = lower(q.q) THEN 0.4
                                        WHEN y.name ILIKE q.prefix THEN 0.15 ELSE 0 END)
                      FROM species_synonym y WHERE y.species_id = s.id), 0)
        ) AS score
    FROM species_plantspecies s JOIN species_hits h ON h.id = s.id, q
),
post_hits AS (
    -- Each branch can use an index (full text: blog_post_search_vector); only hits are ranked.
    SELECT p.page_ptr_id AS id FROM blog_blogpostpage p, q WHERE p.search_vector @@ q.tsq
    UNION
    SELECT p.page_ptr_id FROM blog_blogpostpage p JOIN wagtailcore_page wp ON wp.id = p.page_ptr_id, q
    WHERE q.q <%% wp.title OR wp.title ILIKE q.pattern OR q.q <%% p.intro
),
posts AS (
    SELECT 'post'::text AS kind, p.page_ptr_id AS id,
        GREATEST(
            -- A post about a plant ranks just below the plant itself.
            word_similarity(q.q, wp.title) * 0.9 + CASE WHEN wp.title ILIKE q.prefix THEN 0.1 ELSE 0 END,
            word_similarity(q.q, p.intro) * 0.7,
            0.3 * ts_rank_cd(p.search_vector, q.tsq, 32)
        ) AS score
    FROM post_hits h JOIN blog_blogpostpage p ON p.page_ptr_id = h.id JOIN wagtailcore_page wp ON wp.id = p.page_ptr_id, q
    WHERE wp.live
      AND NOT EXISTS (
          SELECT 1 FROM wagtailcore_pageviewrestriction r JOIN wagtailcore_page rp ON rp.id = r.page_id
          WHERE wp.path LIKE rp.path || '%%'
      )
),
ranked AS (
    SELECT kind, id, score,
           count(*) FILTER (WHERE kind = 'species') OVER () AS species_total,
           count(*) FILTER (WHERE kind = 'post') OVER () AS post_total
    FROM (SELECT * FROM species UNION ALL SELECT * FROM posts) everything
)
SELECT kind, id, score, species_total, post_total FROM ranked
WHERE %(kind)s::text IS NULL OR kind = %(kind)s::text
ORDER BY score DESC, kind, id
LIMIT %(limit)s OFFSET %(offset)s
"""


@dataclass
class SearchPage:
    results: list[dict[str, Any]]
    facets: dict[str, int]
    count: int  # results of the requested type(s), for pagination


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def normalise(query: str) -> str:
    return " ".join(query.split())


def search(query: str, *, kind: str | None, limit: int, offset: int) -> SearchPage:
    """Rank species and posts for `query` (already validated: 2–100 characters, normalised)."""
    params = {
        "q": query,
        "like": f"%{_escape_like(query)}%",
        "prefix": f"{_escape_like(query)}%",
        "kind": kind,
        "limit": limit,
        "offset": offset,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL pg_trgm.word_similarity_threshold = %s", [WORD_SIMILARITY_THRESHOLD])
        cursor.execute(_SQL, params)
        rows = cursor.fetchall()
        if rows:
            facets = {"species": rows[0][3], "post": rows[0][4]}
        else:
            # Past the last page (or nothing of this type): count without the page window.
            cursor.execute(_SQL.replace("LIMIT %(limit)s OFFSET %(offset)s", "LIMIT 1"), {**params, "kind": None})
            first = cursor.fetchone()
            facets = {"species": first[3], "post": first[4]} if first else {"species": 0, "post": 0}
    count = facets[kind] if kind else facets["species"] + facets["post"]
    with image_pool(()):
        results = _load(rows, query)
    return SearchPage(results=results, facets=facets, count=count)


def _load(rows: list[tuple[Any, ...]], query: str) -> list[dict[str, Any]]:
    species_ids = [row[1] for row in rows if row[0] == "species"]
    post_ids = [row[1] for row in rows if row[0] == "post"]
    species = (
        {s.pk: s for s in PlantSpecies.objects.filter(pk__in=species_ids).select_related("page", "page__hero_image").prefetch_related("common_names", "synonyms", "page__hero_image__renditions")}
        if species_ids else {}
    )
    posts = (
        {p.pk: p for p in BlogPostPage.objects.filter(pk__in=post_ids).select_related("hero_image").prefetch_related("hero_image__renditions")}
        if post_ids else {}
    )
    results = []
    for kind, pk, score, _, _ in rows:
        if kind == "species" and pk in species:
            results.append(_species_result(species[pk], score, query))
        elif kind == "post" and pk in posts:
            results.append(_post_result(posts[pk], score, query))
    return results


def _page_link(page: Any) -> dict[str, Any]:
    return {"id": page.pk, "title": page.title, "url": page.url, "api_url": f"/api/v2/pages/{page.pk}/"}


def _species_result(species: PlantSpecies, score: float, query: str) -> dict[str, Any]:
    names = species.common_names_by_language()
    synonyms = [s.name for s in species.synonyms.all()]
    page = getattr(species, "page", None)
    page = page if page is not None and page.live else None
    all_names = [name for values in names.values() for name in values]
    matched_names = [highlight(name, query) for name in all_names if is_match(name, query)]
    matched_synonyms = [highlight(name, query) for name in synonyms if is_match(name, query)]
    return {
        "type": "species",
        "id": species.pk,
        "title": species.scientific_name,
        "subtitle": (names.get("en") or all_names or [""])[0],
        "score": round(float(score), 4),
        "page": _page_link(page) if page else None,
        "image": image_representation(page.hero_image) if page else None,
        "highlights": {
            "title": highlight(species.scientific_name, query),
            "common_names": matched_names,
            "synonyms": matched_synonyms,
        },
        "family": species.family,
        "toxicity": {"people": species.toxicity_people, "pets": species.toxicity_pets},
    }


def _post_result(post: BlogPostPage, score: float, query: str) -> dict[str, Any]:
    return {
        "type": "post",
        "id": post.pk,
        "title": post.title,
        "subtitle": post.intro,
        "score": round(float(score), 4),
        "page": _page_link(post),
        "image": image_representation(post.hero_image),
        "highlights": {
            "title": highlight(post.title, query),
            "text": highlight(snippet(post.search_text, query), query),
        },
        "date": post.date.isoformat(),
    }


# --- Highlighting: HTML-escaped text with <mark> around matching words ------------------------------

_WORD = re.compile(r"\w+", re.UNICODE)
FUZZY_RATIO = 0.75


def _tokens(query: str) -> list[str]:
    return [t.lower() for t in _WORD.findall(query) if len(t) >= 2]


def _word_matches(word: str, tokens: list[str]) -> tuple[int, int] | None:
    """The span of `word` to mark: the token as a substring, else the whole word if it is close."""
    lower = word.lower()
    for token in tokens:
        at = lower.find(token)
        if at >= 0:
            return at, at + len(token)
    for token in tokens:
        if len(token) >= 4 and difflib.SequenceMatcher(None, lower, token).ratio() >= FUZZY_RATIO:
            return 0, len(word)
        if len(token) >= 4 and len(lower) > len(token) and difflib.SequenceMatcher(None, lower[: len(token) + 1], token).ratio() >= FUZZY_RATIO:
            return 0, len(word)
    return None


def is_match(text: str, query: str) -> bool:
    tokens = _tokens(query)
    return any(_word_matches(m.group(), tokens) for m in _WORD.finditer(text))


def highlight(text: str, query: str) -> str:
    """`text` HTML-escaped, with `<mark>…</mark>` around the parts that match `query`."""
    tokens = _tokens(query)
    out: list[str] = []
    last = 0
    for m in _WORD.finditer(text):
        span = _word_matches(m.group(), tokens)
        if span is None:
            continue
        start, end = m.start() + span[0], m.start() + span[1]
        out.append(html.escape(text[last:start]))
        out.append(f"<mark>{html.escape(text[start:end])}</mark>")
        last = end
    out.append(html.escape(text[last:]))
    return "".join(out)


def snippet(text: str, query: str, width: int = 160) -> str:
    """About `width` characters of `text` around its first match (plain text, not escaped)."""
    tokens = _tokens(query)
    for m in _WORD.finditer(text):
        if _word_matches(m.group(), tokens):
            start = max(0, m.start() - width // 3)
            end = min(len(text), start + width)
            prefix = "…" if start > 0 else ""
            suffix = "…" if end < len(text) else ""
            return prefix + text[start:end].strip() + suffix
    return text[:width] + ("…" if len(text) > width else "")
