"""The stand-in's knowledge: a few real houseplants, and how an image picks one.

Answers are deterministic: the SHA-256 of the image bytes chooses the species and the scores, so
the same upload always gets the same answer. An image of (nearly) one colour is "not a plant".
GBIF keys are the best-known values, not checked against GBIF from here; what matters to the
gateway is that they are stable strings.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageStat, UnidentifiedImageError


@dataclass(frozen=True)
class Species:
    name: str  # scientific name without author
    authorship: str
    family: str
    order: str
    class_: str
    common_names: tuple[str, ...]
    gbif_id: str
    watering: tuple[int, int]  # Plant.id's 1 (dry) .. 3 (wet) scale
    description: str
    powo_id: str | None = None
    edible_parts: tuple[str, ...] | None = None
    propagation_methods: tuple[str, ...] = ("cuttings",)
    entity_id: str = ""  # Plant.id's 16-hex id; derived from the name unless known

    @property
    def genus(self) -> str:
        return self.name.split()[0]

    @property
    def full_name(self) -> str:
        return f"{self.name} {self.authorship}"

    @property
    def plant_id_entity(self) -> str:
        return self.entity_id or hashlib.sha256(self.name.encode()).hexdigest()[:16]

    def plant_id_details(self) -> dict[str, Any]:
        """Plant.id detail views this stand-in knows; a requested view not listed here answers null."""
        return {
            "common_names": list(self.common_names),
            "url": f"https://en.wikipedia.org/wiki/{self.name.replace(' ', '_')}",
            "description": {"value": self.description, "citation": "Plant Community provider stand-in", "license_name": "CC0 1.0",
                            "license_url": "https://creativecommons.org/publicdomain/zero/1.0/"},
            "taxonomy": {"kingdom": "Plantae", "phylum": "Tracheophyta", "class": self.class_, "order": self.order,
                         "family": self.family, "genus": self.genus},
            "rank": "species",
            "name_authority": self.full_name,
            "gbif_id": int(self.gbif_id),
            "synonyms": [],
            "edible_parts": list(self.edible_parts) if self.edible_parts else None,
            "propagation_methods": list(self.propagation_methods),
            "watering": {"min": self.watering[0], "max": self.watering[1]},
        }


CATALOGUE: tuple[Species, ...] = (
    Species("Monstera deliciosa", "Liebm.", "Araceae", "Alismatales", "Liliopsida", ("Swiss cheese plant", "Split-leaf philodendron"),
            "2868241", (2, 2), "Climbing aroid with large, split and holed leaves.", edible_parts=("fruit",)),
    Species("Epipremnum aureum", "(Linden & André) G.S.Bunting", "Araceae", "Alismatales", "Liliopsida", ("Golden pothos", "Devil's ivy"),
            "2856940", (2, 2), "Trailing vine with heart-shaped, often variegated leaves."),
    Species("Aloe vera", "(L.) Burm.f.", "Asphodelaceae", "Asparagales", "Liliopsida", ("Aloe vera", "Barbados aloe"),
            "2777724", (1, 1), "Stemless succulent with thick, toothed leaves full of gel.", edible_parts=("leaves",),
            propagation_methods=("division", "offsets"), entity_id="4ba05f1050481731"),
    Species("Ficus lyrata", "Warb.", "Moraceae", "Rosales", "Magnoliopsida", ("Fiddle-leaf fig",),
            "5361882", (2, 2), "Fig with large, violin-shaped, leathery leaves."),
    Species("Dracaena trifasciata", "(Prain) Mabb.", "Asparagaceae", "Asparagales", "Liliopsida", ("Snake plant", "Mother-in-law's tongue"),
            "2773780", (1, 2), "Stiff, upright, sword-shaped leaves banded in grey-green.", propagation_methods=("division", "cuttings")),
    Species("Spathiphyllum wallisii", "Regel", "Araceae", "Alismatales", "Liliopsida", ("Peace lily",),
            "2869220", (2, 3), "Glossy leaves and white spathes on long stalks."),
    Species("Hibiscus rosa-sinensis", "L.", "Malvaceae", "Malvales", "Magnoliopsida", ("Hawaiian hibiscus", "Chinese hibiscus"),
            "3152559", (2, 3), "Shrub with large, showy, five-petalled flowers.", powo_id="560148-1", edible_parts=("flowers", "leaves")),
)

DISEASES: tuple[tuple[str, str], ...] = (
    ("e5eed7f688efa59e", "water excess or uneven watering"),
    ("53aac959aba8302b", "mechanical damage"),
    ("8f3a1c0d2b7e4a61", "nutrient deficiency"),
)


@dataclass(frozen=True)
class Picture:
    kind: str  # "jpeg" | "png" | "webp" | "gif" | "unknown"
    decodable: bool
    uniform: bool  # one colour, or nearly: not a plant

    @property
    def is_plant(self) -> bool:
        return self.decodable and not self.uniform


@dataclass(frozen=True)
class Match:
    """What the images are: species with scores, best first."""

    ranked: list[tuple[Species, float]] = field(default_factory=list)
    is_plant: bool = True
    digest: bytes = b""


_MAGIC = ((b"\xff\xd8\xff", "jpeg"), (b"\x89PNG\r\n\x1a\n", "png"), (b"GIF8", "gif"))


def sniff(data: bytes) -> str:
    """The image type from its first bytes, whatever the upload claims."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return "unknown"


def inspect(data: bytes) -> Picture:
    """Decode a small version of the image; undecodable or truncated images say so."""
    kind = sniff(data)
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.draft("RGB", (64, 64))  # JPEG: decode at reduced size
            small = image.convert("RGB")
            small.thumbnail((32, 32))
            spread = max(ImageStat.Stat(small).stddev)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return Picture(kind, decodable=False, uniform=False)
    return Picture(kind, decodable=True, uniform=spread < 3.0)


def identify(images: list[bytes], pictures: list[Picture]) -> Match:
    """Rank three catalogue species for these images; the hash of their bytes decides which and how sure."""
    digest = hashlib.sha256(b"".join(images)).digest()
    first = int.from_bytes(digest[:4], "big") % len(CATALOGUE)
    is_plant = any(p.is_plant for p in pictures)
    top = 0.80 + digest[4] / 255 * 0.18 if is_plant else 0.04 + digest[4] / 255 * 0.05
    scores = (top, top * (0.04 + digest[5] / 255 * 0.06), top * (0.01 + digest[6] / 255 * 0.02))
    ranked = [(CATALOGUE[(first + i) % len(CATALOGUE)], round(score, 5)) for i, score in enumerate(scores)]
    return Match(ranked=ranked, is_plant=is_plant, digest=digest)
