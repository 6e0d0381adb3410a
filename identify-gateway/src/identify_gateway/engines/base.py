"""What every identification engine returns (`EngineResult`) and how its failures are classified.

The classification follows external-apis.md section 5 and decides what a breaker counts:

| error              | meaning                                   | breaker                     |
|--------------------|-------------------------------------------|-----------------------------|
| `ImageRejected`    | the engine refused this image (4xx)       | never counts                |
| `OutOfQuota`       | credits / daily quota gone (429)          | forced open until the reset |
| `EngineFailure`    | 5xx, timeout, connection, bad body, 401   | counts                      |

A Pl@ntNet 404 "Species not found" is not an error at all: an empty, valid `EngineResult`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SimilarImage:
    url: str
    url_small: str | None = None
    similarity: float | None = None
    license_name: str | None = None
    license_url: str | None = None
    citation: str | None = None


@dataclass(frozen=True)
class Candidate:
    """One species an engine proposes."""

    scientific_name: str  # without authorship
    score: float  # the engine's own 0..1 score
    common_names: tuple[str, ...] = ()
    authorship: str | None = None
    genus: str | None = None
    family: str | None = None
    gbif_id: int | None = None
    description: str | None = None
    url: str | None = None
    details: dict[str, Any] = field(default_factory=dict)  # engine detail views kept for care hints (watering, ...)
    similar_images: tuple[SimilarImage, ...] = ()


@dataclass(frozen=True)
class Disease:
    name: str
    probability: float
    common_names: tuple[str, ...] = ()
    description: str | None = None
    treatment: dict[str, Any] | None = None
    similar_images: tuple[SimilarImage, ...] = ()


@dataclass(frozen=True)
class QuotaReading:
    """What an answer said about the account's quota: remaining units and seconds to the reset."""

    remaining: float | None
    reset_in_s: int | None = None
    limit: float | None = None


@dataclass(frozen=True)
class EngineResult:
    engine: str
    candidates: tuple[Candidate, ...]
    model_version: str | None = None
    is_plant: float | None = None  # probability, when the engine says
    is_healthy: float | None = None  # probability
    healthy: bool | None = None  # the engine's own verdict (its threshold)
    diseases: tuple[Disease, ...] = ()
    quota: QuotaReading | None = None
    standin: bool = False  # answered by the development provider stand-in
    no_match: bool = False  # the engine answered "nothing identified" (a valid, empty answer)


class EngineError(Exception):
    """Base of every classified engine error."""

    def __init__(self, engine: str, message: str) -> None:
        super().__init__(f"{engine}: {message}")
        self.engine = engine
        self.message = message


class ImageRejected(EngineError):
    """The engine refused this image or its parameters (a 4xx caused by the input): never a breaker failure."""


class OutOfQuota(EngineError):
    """The account's credits or daily quota are gone (429): open the breaker until `reset_in_s` (None: until an operator resets it)."""

    def __init__(self, engine: str, message: str, *, reset_in_s: int | None) -> None:
        super().__init__(engine, message)
        self.reset_in_s = reset_in_s


class EngineFailure(EngineError):
    """A fault of the engine or the way to it (5xx, timeout, connection, unreadable body, rejected key): counts."""


class EngineTimeout(EngineFailure):
    """The engine did not answer within its time budget."""


def text_of(body: bytes, limit: int = 200) -> str:
    """An error body as a short single-line string for logs (never shown to end users)."""
    return body[:limit].decode("utf-8", "replace").replace("\n", " ").strip()
