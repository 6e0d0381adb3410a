"""CMS API figures (issue 6), all through the edge and measured in one run:

1. `/api/v2/pages/?type=blog.BlogPostPage&fields=*&limit=20` with 1,000 posts: SQL queries per
   listing (for 1 and 20 items: must be equal), then p50/p95 uncached (every request a different
   offset, so every one misses the Redis cache) and cached (the same URL again), against trivial
   Django views: `/livez` straight to the CMS (no database), and `/api/v2/<unknown>/` through the
   edge (a 404 JSON through the same middleware, including the redirects lookup: one query).
2. `/api/v1/search/?q=` over 5,000 species and 1,000 posts: p50/p95 for typo-laden queries.

Goals (perf notes A4): query count constant; p95 ≤ 50 ms uncached, ≤ 10 ms cached.
Run inside a stack, with the edge's rate limit lifted (sequential requests from one client would
otherwise be throttled and measured as 429s):

    EDGE_RATE_LIMIT_AVERAGE=100000 EDGE_RATE_LIMIT_BURST=100000 \
        .venv/bin/python -m devstack run --profile e2e -- .venv/bin/python bench/cms_api.py

(seeds the data on first run and keeps it, so the next run starts at once; `--clean` removes it).
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "cms" / "src"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "plant_cms.settings.dev")

POSTS, SPECIES = 1000, 5000
LISTING = "/api/v2/pages/?type=blog.BlogPostPage&fields=*&limit=20"
GENERA = [
    "Monstera", "Philodendron", "Anthurium", "Alocasia", "Calathea", "Maranta", "Ficus", "Dracaena", "Aloe", "Haworthia",
    "Echeveria", "Crassula", "Sedum", "Begonia", "Peperomia", "Pilea", "Hoya", "Ceropegia", "Tradescantia", "Aglaonema",
    "Dieffenbachia", "Syngonium", "Epipremnum", "Scindapsus", "Rhaphidophora", "Spathiphyllum", "Zamioculcas", "Sansevieria", "Chlorophytum", "Asparagus",
    "Lavandula", "Salvia", "Thymus", "Origanum", "Mentha", "Rosa", "Hydrangea", "Buxus", "Digitalis", "Helianthus",
    "Acer", "Quercus", "Betula", "Fagus", "Pinus", "Abies", "Picea", "Juniperus", "Taxus", "Ilex",
    "Camellia", "Rhododendron", "Magnolia", "Prunus", "Malus", "Pyrus", "Sorbus", "Viburnum", "Cornus", "Clematis",
    "Geranium", "Pelargonium", "Primula", "Viola", "Tulipa", "Narcissus", "Crocus", "Allium", "Iris", "Paeonia",
]
EPITHETS = [
    "deliciosa", "adansonii", "elegans", "gracilis", "variegata", "minor", "major", "alba", "rubra", "aurea",
    "argentea", "purpurea", "sylvestris", "montana", "japonica", "sinensis", "officinalis", "vulgaris", "communis", "repens",
    "scandens", "erecta", "pendula", "nana", "gigantea", "angustifolia", "latifolia", "macrophylla", "microphylla", "rotundifolia",
    "lanceolata", "cordata", "ovata", "pinnata", "palmata", "tomentosa", "glabra", "hirsuta", "mollis", "spinosa",
    "fragrans", "odorata", "lutea", "virens", "glauca", "caerulea", "nigra", "orientalis", "occidentalis", "australis",
    "borealis", "alpina", "maritima", "aquatica", "arvensis", "pratensis", "nemorosa", "silvatica", "hortensis", "sativa",
    "edulis", "dulcis", "amara", "acris", "tenuis", "robusta", "compacta", "densiflora", "grandiflora", "parviflora",
    "multiflora", "cristata", "undulata", "crispa", "marginata", "picta", "maculata", "striata", "zebrina", "regia",
]
QUERIES = ["monstra", "philodendon", "snake plant", "alocasia zebrna", "lavender", "swiss cheese", "ficus lyr", "hoya", "begona maculata",
           "rosa rugsa", "watering", "repotting", "pests", "acer palmatm", "calathea orbifolia", "peperomia", "pilea", "tulip"]


def setup_django() -> None:
    import django

    django.setup()


def seed() -> None:
    """1,000 published posts (images, authors, categories, tags, related species) and 5,000 species."""
    from django.db import transaction
    from django.utils import timezone

    from plant_cms.blog.factories import blog_index, make_author, make_category
    from plant_cms.blog.models import BlogPostPage
    from plant_cms.species.factories import make_image
    from plant_cms.species.models import CommonName, PlantSpecies, SpeciesPage

    existing = set(PlantSpecies.objects.values_list("scientific_name", flat=True))
    names = [f"{g} {e}" for g, e in itertools.product(GENERA, EPITHETS) if f"{g} {e}" not in existing]
    missing = SPECIES - PlantSpecies.objects.filter(family="Benchaceae").count()
    if missing > 0:
        with transaction.atomic():
            made = PlantSpecies.objects.bulk_create([
                PlantSpecies(scientific_name=name, genus=name.split()[0], family="Benchaceae") for name in names[:missing]
            ])
            CommonName.objects.bulk_create([
                CommonName(species=s, language="en", name=f"{s.scientific_name.split()[1].capitalize()} {s.genus.lower()}", sort_order=0) for s in made
            ])
        print(f"seeded {len(made)} species", flush=True)

    index = blog_index()
    have = BlogPostPage.objects.filter(slug__startswith="bench-post-").count()
    if have >= POSTS:
        return
    images = [make_image(f"bench image {n}", size=(1200, 800), colour=c) for n, c in enumerate(["seagreen", "olive", "teal", "darkgreen", "sienna"] * 4)]
    authors = [make_author(f"Bench author {n}", portrait=images[n]) for n in range(5)]
    categories = [make_category(f"Bench category {n}") for n in range(6)]
    species_pages = list(SpeciesPage.objects.all()[:10])
    started = time.monotonic()
    for n in range(have, POSTS):
        post = BlogPostPage(
            title=f"Bench post {n}: {random.choice(GENERA)} care", slug=f"bench-post-{n:04d}", intro="A generated post for the benchmark.",
            hero_image=images[n % len(images)], hero_credit="generated for Plant Community",
            body=[
                ("heading", {"text": "Light and water", "level": "h2"}),
                ("paragraph", "<p>Bright, <b>indirect</b> light; water when the top 5 cm are dry.</p>" * 5),
                ("image", {"image": images[(n + 1) % len(images)], "caption": "Generated", "credit": "generated for Plant Community", "alt": ""}),
                ("callout", {"tone": "tip", "title": "Tip", "text": "<p>Use rain water.</p>"}),
            ],
            first_published_at=timezone.now() - datetime.timedelta(minutes=n), live=True,
        )
        post.authors = [authors[n % 5], authors[(n + 2) % 5]]
        post.categories = [categories[n % 6], categories[(n + 3) % 6]]
        post.related_species = species_pages[n % 10: n % 10 + 1] if species_pages else []
        post.tags.add(f"bench-{n % 25}", "bench")
        index.add_child(instance=post)
        if n % 100 == 99:
            print(f"seeded {n + 1} posts ({time.monotonic() - started:.0f} s)", flush=True)


def unseed() -> None:
    from plant_cms.blog.models import BlogPostPage
    from plant_cms.species.models import PlantSpecies

    BlogPostPage.objects.filter(slug__startswith="bench-post-").delete()  # treebeard keeps the tree consistent
    PlantSpecies.objects.filter(family="Benchaceae").delete()


def query_counts() -> tuple[int, int]:
    """SQL queries for the listing with limit=1 and limit=20 (in process, cache off, warmed)."""
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    settings.API_CACHE_SECONDS = 0
    client = Client(HTTP_HOST="localhost")
    counts = []
    for limit in (1, 20):
        url = LISTING.replace("limit=20", f"limit={limit}")
        client.get(url)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        counts.append(len(queries))
    return counts[0], counts[1]


def timed(client: httpx.Client, urls: list[str], expect_cache: str | None = None) -> tuple[float, float, int]:
    """p50 and p95 in ms over `urls` (one GET each, sequential), and how many were cache hits."""
    latencies, hits = [], 0
    for url in urls:
        started = time.perf_counter()
        response = client.get(url)
        latencies.append((time.perf_counter() - started) * 1000)
        if response.status_code >= 500 or response.status_code == 429:  # 429: the edge's rate limit was not lifted
            raise RuntimeError(f"{url}: {response.status_code} {response.text[:200]}")
        hits += response.headers.get("X-Cache") == "HIT"
    latencies.sort()
    return statistics.median(latencies), latencies[max(0, int(len(latencies) * 0.95) - 1)], hits


def main() -> None:
    global POSTS, SPECIES
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="per measurement")
    parser.add_argument("--clean", action="store_true", help="remove the seeded data afterwards")
    parser.add_argument("--posts", type=int, default=POSTS)
    parser.add_argument("--species", type=int, default=SPECIES)
    args = parser.parse_args()
    edge = os.environ["PLATFORM_EDGE_URL"]
    if edge.rstrip("/") == os.environ.get("PLATFORM_CMS_URL", "").rstrip("/"):
        sys.exit("PLATFORM_EDGE_URL points at the CMS itself: the figures must go through the edge")
    POSTS, SPECIES = args.posts, args.species

    setup_django()
    seed()
    one, twenty = query_counts()
    from plant_cms.api_cache import purge

    purge()
    n = args.requests
    with httpx.Client(base_url=edge, timeout=30) as client:
        # Warm connections, site root paths and image renditions of every listing page once.
        for offset in range(0, POSTS, 20):
            client.get(LISTING + f"&offset={offset}")
        timed(client, ["/api/v2/bench-trivial/"] * 20)
        purge()
        trivial = timed(client, ["/api/v2/bench-trivial/"] * n)
        with httpx.Client(base_url=os.environ["PLATFORM_CMS_URL"], timeout=30) as direct:
            timed(direct, ["/livez"] * 20)
            livez = timed(direct, ["/livez"] * n)
        uncached = timed(client, [LISTING + f"&offset={i % (POSTS - 20)}" for i in range(n)])
        client.get(LISTING)
        cached = timed(client, [LISTING] * n)
        searches = [f"/api/v1/search/?q={QUERIES[i % len(QUERIES)]}" for i in range(n)]
        timed(client, searches[: len(QUERIES)])
        search = timed(client, searches)
    if args.clean:
        unseed()

    rows = [
        ("trivial view /livez, direct", livez),
        ("trivial view (404 JSON), edge", trivial),
        ("pages listing, uncached", uncached),
        ("pages listing, cached (Redis)", cached),
        (f"search ({SPECIES:,} species + {POSTS:,} posts)", search),
    ]
    print(f"\nCMS API through the edge ({edge}), {n} sequential requests each; load average {os.getloadavg()[0]:.1f}")
    print(f"SQL queries per listing: limit=1 → {one}, limit=20 → {twenty} ({'constant' if one == twenty else 'NOT constant'})")
    print(f"{'':40s} {'p50 ms':>8s} {'p95 ms':>8s} {'× 404 p50':>10s} {'cache hits':>11s}")
    for label, (p50, p95, hits) in rows:
        print(f"{label:40s} {p50:8.1f} {p95:8.1f} {p50 / trivial[0]:10.1f} {hits:11d}")
    print(f"goal p95 ≤ 50 ms uncached: {'met' if uncached[1] <= 50 else 'MISSED'}; p95 ≤ 10 ms cached: {'met' if cached[1] <= 10 else 'MISSED'}")
    print(json.dumps({"queries": {"limit_1": one, "limit_20": twenty}, **{label: {"p50_ms": round(p50, 2), "p95_ms": round(p95, 2), "hits": hits} for label, (p50, p95, hits) in rows}}))


if __name__ == "__main__":
    main()
