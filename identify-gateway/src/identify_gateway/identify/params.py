"""The identification parameters, validated once, and the part of them that changes the answer."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from identify_gateway.engines.plantnet import ORGANS
from identify_gateway.identify.errors import UploadRejected

COORDINATE_DECIMALS = 3  # ~100 m: enough for the engines' regional priors, and no more of the user's location
_LANGUAGE = re.compile(r"[a-z]{2}")
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


@dataclass(frozen=True)
class IdentifyParams:
    """Validated parameters of one identification (organs pair with images, in order)."""

    organs: tuple[str, ...] = ()
    latitude: float | None = None
    longitude: float | None = None
    language: str = "en"
    health: bool = False

    def cache_params(self) -> dict[str, str]:
        """Every parameter that changes the answer, as strings (the cache key's input)."""
        return {
            "organs": ",".join(self.organs),
            "lat": "" if self.latitude is None else f"{self.latitude:.{COORDINATE_DECIMALS}f}",
            "lon": "" if self.longitude is None else f"{self.longitude:.{COORDINATE_DECIMALS}f}",
            "language": self.language,
            "health": "1" if self.health else "0",
        }

    def stored(self) -> dict[str, object]:
        """What history keeps of the parameters (not the location)."""
        return {"organs": list(self.organs), "language": self.language, "health": self.health, "located": self.latitude is not None}


def _invalid(field: str, why: str) -> UploadRejected:
    return UploadRejected(422, "validation_error", f"Invalid request: {field}: {why}.")


def _coordinate(field: str, raw: str | None, bound: float) -> float | None:
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise _invalid(field, "must be a number") from None
    if not math.isfinite(value) or not -bound <= value <= bound:
        raise _invalid(field, f"must be between -{bound:g} and {bound:g}")
    return round(value, COORDINATE_DECIMALS)


def parse_params(fields: Mapping[str, Sequence[str]], *, image_count: int) -> IdentifyParams:
    """Validate the form's text fields.

    Raises:
        UploadRejected: 422 `validation_error` naming the field.
    """

    def one(name: str) -> str | None:
        values = fields.get(name)
        return values[-1] if values else None

    organs = tuple(o.strip().lower() for o in fields.get("organs", ()) if o.strip())
    if len(organs) == 1 and "," in organs[0]:
        organs = tuple(o.strip() for o in organs[0].split(",") if o.strip())
    if organs and len(organs) != image_count:
        raise _invalid("organs", f"give one organ per image ({image_count}), or none")
    if bad := [o for o in organs if o not in ORGANS]:
        raise _invalid("organs", f"{bad[0]!r} is not one of {', '.join(ORGANS)}")
    latitude = _coordinate("latitude", one("latitude"), 90)
    longitude = _coordinate("longitude", one("longitude"), 180)
    if (latitude is None) != (longitude is None):
        raise _invalid("latitude", "give latitude and longitude together")
    language = (one("language") or "en").strip().lower()
    if not _LANGUAGE.fullmatch(language):
        raise _invalid("language", "must be a two-letter ISO 639-1 code such as en")
    health_raw = (one("health") or "").strip().lower()
    if health_raw not in _TRUE | _FALSE:
        raise _invalid("health", "must be true or false")
    return IdentifyParams(organs=organs, latitude=latitude, longitude=longitude, language=language, health=health_raw in _TRUE)
